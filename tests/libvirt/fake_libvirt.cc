// fake_libvirt.cc -- a libvirt.so.0 that has none of libvirt's functions: what nvlab finds on a
// host whose libvirt cannot be used (LibvirtLibraryTest).

extern "C" {
int nvlab_fake_libvirt = 1;  // A shared object needs a symbol; this one is not libvirt's.
}
