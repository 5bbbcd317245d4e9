// File: nvlab/explore/recording_file.h
//
// Recording files: WriteRecordingFile validates a recording and writes it atomically (readers
// see the old file or the whole new one); ReadRecordingFile reads a file strictly
// (recording_decoder.h). Errors name the path.
//
// Thread-safety: plain functions; concurrent writers of one path must coordinate themselves.

#ifndef NVLAB_EXPLORE_RECORDING_FILE_H_
#define NVLAB_EXPLORE_RECORDING_FILE_H_

#include <filesystem>

#include "nvlab/explore/recording.h"
#include "nvlab/status.h"

namespace nvlab::explore {

Status WriteRecordingFile(const std::filesystem::path& path, const Recording& recording);
Status ReadRecordingFile(const std::filesystem::path& path, Recording* out);

}  // namespace nvlab::explore

#endif  // NVLAB_EXPLORE_RECORDING_FILE_H_
