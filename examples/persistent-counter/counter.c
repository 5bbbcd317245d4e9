/* counter.c -- a tiny persistent counter on the first NVDIMM ($NVLAB_PMEM, a devdax device),
 * written with the Windows non-volatile memory API (nvrtl). The record is one value and its
 * complement in one 64-byte line, so a reader can tell a torn record from a whole one.
 *
 *   counter reset                  value 0, made durable
 *   counter increment              value + 1, made durable (written, flushed, drained)
 *   counter increment-unflushed    value + 1, stored but not flushed; then cuts the power
 *   counter get                    prints the value; exit 3 when the record is torn
 *   counter expect N               exit 0 when the value is N (and whole), else 1 (3: torn)
 *
 * Built static, it runs in the guest from the share folder (/host/counter). */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <nvrtl/nvrtl.h>

struct counter_record {
  uint64_t value;
  uint64_t check; /* ~value */
};

static int fail(const char* what) {
  fprintf(stderr, "counter: %s: %s\n", what, NvGetLastErrorMessage());
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: counter reset|increment|increment-unflushed|get|expect N\n");
    return 2;
  }
  const char* pmem = getenv("NVLAB_PMEM");
  if (pmem == NULL) {
    fprintf(stderr, "counter: NVLAB_PMEM is not set (run it in an nvlab guest)\n");
    return 2;
  }
  PVOID base = NULL;
  SIZE_T size = 0;
  if (!NT_SUCCESS(NvMapDaxDevice(pmem, &base, &size))) return fail(pmem);
  PVOID token = NULL;
  if (!NT_SUCCESS(RtlGetNonVolatileToken(base, sizeof(struct counter_record), &token))) {
    return fail("RtlGetNonVolatileToken");
  }
  struct counter_record* nv = (struct counter_record*)base;
  struct counter_record now;
  memcpy(&now, nv, sizeof now);
  const char* command = argv[1];

  if (strcmp(command, "get") == 0 || strcmp(command, "expect") == 0) {
    if (now.check != ~now.value) {
      printf("torn: value %" PRIu64 " check %#" PRIx64 "\n", now.value, now.check);
      return 3;
    }
    printf("%" PRIu64 "\n", now.value);
    if (strcmp(command, "expect") == 0) {
      if (argc < 3) return 2;
      return now.value == strtoull(argv[2], NULL, 10) ? 0 : 1;
    }
    return 0;
  }

  struct counter_record next = {0, ~(uint64_t)0};
  if (strcmp(command, "increment") == 0 || strcmp(command, "increment-unflushed") == 0) {
    /* A record never written (a zeroed NVDIMM) counts from 0. */
    const uint64_t value = now.check == ~now.value ? now.value : 0;
    next.value = value + 1;
    next.check = ~next.value;
  } else if (strcmp(command, "reset") != 0) {
    fprintf(stderr, "counter: unknown command %s\n", command);
    return 2;
  }

  if (strcmp(command, "increment-unflushed") == 0) {
    /* No page fault (a kernel entry) between the store and the cut. */
    if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0) perror("counter: mlockall");
    if (!NT_SUCCESS(RtlWriteNonVolatileMemory(token, nv, &next, sizeof next, 0))) {
      return fail("RtlWriteNonVolatileMemory");
    }
    NvLabPowerCut();
    fprintf(stderr, "counter: not in nvlab's persistence model: the power was not cut\n");
    return 2;
  }
  if (!NT_SUCCESS(
          RtlWriteNonVolatileMemory(token, nv, &next, sizeof next, WRITE_NV_MEMORY_FLAG_FLUSH))) {
    return fail("RtlWriteNonVolatileMemory");
  }
  printf("%" PRIu64 "\n", next.value);
  RtlFreeNonVolatileToken(token);
  return 0;
}
