// File: lab/plugin/file_extents.h
//
// The parts of a (sparse) backing file that hold data, and a sparse copy of a file made from
// them. An NVDIMM file is mostly holes: QEMU's stores allocate the blocks they touch, so every
// byte the guest wrote lies in a data extent, and reading or copying only those costs what the
// guest wrote, not the NVDIMM's size. Used for the model's initial media (nvlab_plugin.cc) and
// a recording's initial images (recording_writer.h).
//
// Thread-safety: plain functions on file descriptors the caller owns.

#ifndef NVLAB_PLUGIN_FILE_EXTENTS_H_
#define NVLAB_PLUGIN_FILE_EXTENTS_H_

#include <cstdint>
#include <string>

#include "nvlab/model/nvdimm_region.h"

namespace nvlab::plugin {

// DataExtents lists the parts of the file fd that hold data, within [0, size), ascending.
// Without SEEK_DATA support the whole range is one extent.
model::ByteRanges DataExtents(int fd, uint64_t size);

// CopyDataExtents creates (or truncates) the file `to`, sizes it to `size` and copies the
// data extents of fd's first `size` bytes into it (the rest stays holes, reading as zeroes),
// then fsyncs it. On failure returns false with a sentence in *error and removes `to`.
bool CopyDataExtents(int fd, uint64_t size, const std::string& to, std::string* error);

}  // namespace nvlab::plugin

#endif  // NVLAB_PLUGIN_FILE_EXTENTS_H_
