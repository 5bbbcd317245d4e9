// pending_write_backs.cc -- PendingWriteBacks is header-only; this file anchors the header in
// the library so that it is compiled (and checked) with the library's flags.
#include "nvlab/model/pending_write_backs.h"
