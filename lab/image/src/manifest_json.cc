// manifest_json.cc -- the image's JSON files through nlohmann::json, exceptions caught here.

#include "manifest_json.h"

#include "nvlab/file_contents.h"
#include "nvlab/image/sha256_digest.h"

namespace nvlab::image {

Status ParseJsonObject(std::string_view text, const std::string& what, Json* object) {
  try {
    Json parsed = Json::parse(text);
    if (!parsed.is_object()) {
      return Status::InvalidArgument(what + " is JSON " + std::string(parsed.type_name()) +
                                     ", not an object");
    }
    *object = std::move(parsed);
    return Status::Ok();
  } catch (const Json::exception& error) {
    return Status::InvalidArgument(what + " is not valid JSON: " + error.what());
  }
}

Status ReadJsonObjectFile(const std::filesystem::path& path, Json* object) {
  std::string text;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(path, &text));
  return ParseJsonObject(text, path.string(), object);
}

Status WriteJsonFile(const std::filesystem::path& path, const Json& value) {
  std::string text;
  try {
    text = value.dump(2) + "\n";
  } catch (const Json::exception& error) {
    return Status::InvalidArgument("cannot write " + path.string() + ": " + error.what());
  }
  return WriteFileContents(path, text);
}

Status FileChecksumJson(const std::filesystem::path& path, Json* checksum) {
  std::string hex;
  std::uint64_t size = 0;
  NVLAB_RETURN_IF_ERROR(Sha256OfFile(path, &hex, &size));
  *checksum = Json{{"sha256", hex}, {"size", size}};
  return Status::Ok();
}

Status CheckFileChecksumJson(const Json& checksum, const std::string& what) {
  if (!checksum.is_object() || checksum.size() != 2) {
    return Status::InvalidArgument(what + " must be {\"sha256\": \"...\", \"size\": N}");
  }
  std::string hex;
  NVLAB_RETURN_IF_ERROR(StringField(checksum, "sha256", what, &hex));
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::InvalidArgument(what + ".sha256 is not 64 lowercase hex digits");
  }
  auto size = checksum.find("size");
  if (size == checksum.end() || !size->is_number_unsigned()) {
    return Status::InvalidArgument(what + ".size is missing or not an unsigned number");
  }
  return Status::Ok();
}

Status StringField(const Json& object, const char* name, const std::string& what,
                   std::string* value) {
  auto field = object.find(name);
  if (field == object.end()) return Status::InvalidArgument(what + " has no " + name);
  if (!field->is_string()) {
    return Status::InvalidArgument(what + "." + name + " is JSON " +
                                   std::string(field->type_name()) + ", not a string");
  }
  *value = field->get<std::string>();
  return Status::Ok();
}

}  // namespace nvlab::image
