// recording_file.cc -- WriteRecordingFile, ReadRecordingFile.
#include "nvlab/explore/recording_file.h"

#include <string>

#include "nvlab/explore/recording_decoder.h"
#include "nvlab/explore/recording_encoder.h"
#include "nvlab/file_contents.h"

namespace nvlab::explore {

Status WriteRecordingFile(const std::filesystem::path& path, const Recording& recording) {
  Status valid = ValidateRecording(recording);
  if (!valid.ok()) return valid.WithContext(path.string());
  return WriteFileAtomically(path, EncodeRecording(recording));
}

Status ReadRecordingFile(const std::filesystem::path& path, Recording* out) {
  std::string bytes;
  NVLAB_RETURN_IF_ERROR(ReadFileContents(path, &bytes));
  Status status = DecodeRecording(bytes, out);
  if (!status.ok()) return status.WithContext(path.string());
  return Status::Ok();
}

}  // namespace nvlab::explore
