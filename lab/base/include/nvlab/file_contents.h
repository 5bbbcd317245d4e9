// File: nvlab/file_contents.h
//
// Whole-file reads and writes with Status results, for the image builder.
//
// Thread-safety: plain functions; concurrent writers of one path must coordinate themselves.

#ifndef NVLAB_FILE_CONTENTS_H_
#define NVLAB_FILE_CONTENTS_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "nvlab/status.h"

namespace nvlab {

// ReadFileContents reads the whole file into *contents. Missing: NotFound; else IoError.
Status ReadFileContents(const std::filesystem::path& path, std::string* contents);

// WriteFileContents creates or truncates path with contents (mode 0644, or 0755 if executable).
Status WriteFileContents(const std::filesystem::path& path, std::string_view contents,
                         bool executable = false);

// WriteFileAtomically writes path.tmp-<pid> and renames it over path: readers see the old or
// the new content, never a part.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace nvlab

#endif  // NVLAB_FILE_CONTENTS_H_
