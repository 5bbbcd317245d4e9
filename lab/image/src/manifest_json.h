// manifest_json.h -- reading and writing the image's JSON files (base.json, vmlinux.json,
// manifest.json) with nlohmann::json, without letting an exception out: a file that is not
// JSON, or a field of the wrong type, is an InvalidArgument naming the file and the field.
// Private to nvlab_image.

#ifndef NVLAB_IMAGE_SRC_MANIFEST_JSON_H_
#define NVLAB_IMAGE_SRC_MANIFEST_JSON_H_

#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "nvlab/status.h"

namespace nvlab::image {

// Manifests keep their fields in the order written, for people reading them.
using Json = nlohmann::ordered_json;

// ParseJsonObject parses text, which must be one JSON object; what names it in errors.
Status ParseJsonObject(std::string_view text, const std::string& what, Json* object);

// ReadJsonObjectFile reads and parses a file holding one JSON object. Missing: NotFound;
// unreadable: IoError; not a JSON object: InvalidArgument naming the file.
Status ReadJsonObjectFile(const std::filesystem::path& path, Json* object);

// WriteJsonFile writes value, indented by 2, with a final newline. A string that is not UTF-8
// (a file name in another encoding): InvalidArgument naming the file.
Status WriteJsonFile(const std::filesystem::path& path, const Json& value);

// FileChecksumJson gives {"sha256": "<64 hex digits>", "size": N} for a file's content.
Status FileChecksumJson(const std::filesystem::path& path, Json* checksum);

// CheckFileChecksumJson accepts what FileChecksumJson writes; what names it in errors.
Status CheckFileChecksumJson(const Json& checksum, const std::string& what);

// StringField reads object[name], which must be a string; what names the object in errors.
Status StringField(const Json& object, const char* name, const std::string& what,
                   std::string* value);

}  // namespace nvlab::image

#endif  // NVLAB_IMAGE_SRC_MANIFEST_JSON_H_
