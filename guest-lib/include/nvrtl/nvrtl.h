/*
 * File: nvrtl/nvrtl.h -- the Windows non-volatile memory API (Rtl*NonVolatile*) on Linux.
 *
 * libnvrtl lets code written against the Windows kernel's non-volatile memory API run unchanged
 * over a Linux DAX mapping of persistent memory (devdax /dev/daxX.Y or a MAP_SYNC mapping of a
 * file on a DAX file system). Part 1 of this header declares the Windows API with its exact
 * prototypes, types and constant values; part 2 declares nvlab's extensions, which have no
 * Windows counterpart and are named Nv*.
 *
 * Which memory is NV memory: a program maps persistent memory itself, then asks for a token with
 * RtlGetNonVolatileToken, which recognises devdax and MAP_SYNC mappings by itself. Memory that is
 * not DAX (a plain file, anonymous memory: host development and tests) must first be declared
 * with NvRegisterNonVolatileRange; flushes still execute on it, but nothing is promised about
 * durability.
 *
 * Thread-safety: every function may be called from several threads at once, with the same token
 * or different ones. Freeing a token while another thread still uses it is a caller error: the
 * other thread then gets STATUS_INVALID_PARAMETER (or its call completes), never a crash inside
 * the library.
 *
 * Async-signal-safety: all functions but RtlGetNonVolatileToken, RtlFreeNonVolatileToken and the
 * Nv* set-up functions take no lock, make no system call and allocate nothing, unless the
 * verifier is enabled (see NvEnableVerifier).
 *
 * Reference pages: docs/api/Rtl<Name>.md, docs/api/verifier.md. Compiles as C11 and C++.
 */
#ifndef NVRTL_NVRTL_H_
#define NVRTL_NVRTL_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define NVRTL_API __attribute__((visibility("default")))
#else
#define NVRTL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================
 * Part 1: the Windows API (ntddk.h / winnt.h), exact prototypes, types and values.
 * ========================================================================================== */

/* Windows base types with their LP64 Linux widths (ULONG is 32 bits, as on Windows). Define
 * NVRTL_WINDOWS_TYPES_DEFINED before including this header if another header already defined
 * them. */
#ifndef NVRTL_WINDOWS_TYPES_DEFINED
#define NVRTL_WINDOWS_TYPES_DEFINED 1
typedef int32_t NTSTATUS;
typedef uint32_t ULONG;
typedef uint8_t UCHAR;
typedef size_t SIZE_T;
typedef uintptr_t ULONG_PTR;
typedef void* PVOID;
#endif
#ifndef VOID
#define VOID void
#endif
#ifndef CONST
#define CONST const
#endif
#ifndef UNALIGNED
#define UNALIGNED /* nothing on x86-64 */
#endif

#ifndef NT_SUCCESS
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#endif

/* The NTSTATUS values this library returns. */
#ifndef STATUS_SUCCESS
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#endif
#ifndef STATUS_INFO_LENGTH_MISMATCH
#define STATUS_INFO_LENGTH_MISMATCH ((NTSTATUS)0xC0000004L)
#endif
#ifndef STATUS_INVALID_PARAMETER
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#endif
#ifndef STATUS_ACCESS_DENIED
#define STATUS_ACCESS_DENIED ((NTSTATUS)0xC0000022L)
#endif
#ifndef STATUS_INSUFFICIENT_RESOURCES
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#endif
#ifndef STATUS_NOT_SUPPORTED
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BBL)
#endif

/* NV_MEMORY_RANGE: one byte range for RtlFlushNonVolatileMemoryRanges (16 bytes). */
typedef struct _NV_MEMORY_RANGE {
  VOID* BaseAddress;
  SIZE_T Length;
} NV_MEMORY_RANGE, *PNV_MEMORY_RANGE;

/* Flags of RtlFlushNonVolatileMemory and RtlFlushNonVolatileMemoryRanges. */
#define FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN (0x00000001)
/* A token every flush function accepts without RtlGetNonVolatileToken: it always flushes and
 * tracks nothing (no range check beyond NULL and overflow). */
#define FLUSH_NV_MEMORY_DEFAULT_TOKEN ((ULONG_PTR)-1)

/* Flags of RtlWriteNonVolatileMemory. */
#define WRITE_NV_MEMORY_FLAG_FLUSH (0x00000001)
#define WRITE_NV_MEMORY_FLAG_NON_TEMPORAL (0x00000002)
#define WRITE_NV_MEMORY_FLAG_PERSIST \
  (WRITE_NV_MEMORY_FLAG_FLUSH | WRITE_NV_MEMORY_FLAG_NON_TEMPORAL)
#define WRITE_NV_MEMORY_FLAG_NO_DRAIN (0x00000100)

/* Flags of RtlFillNonVolatileMemory. */
#define FILL_NV_MEMORY_FLAG_FLUSH (0x00000001)
#define FILL_NV_MEMORY_FLAG_NON_TEMPORAL (0x00000002)
#define FILL_NV_MEMORY_FLAG_PERSIST (FILL_NV_MEMORY_FLAG_FLUSH | FILL_NV_MEMORY_FLAG_NON_TEMPORAL)
#define FILL_NV_MEMORY_FLAG_NO_DRAIN (0x00000100)

/* RtlGetNonVolatileToken: creates a token for [NvBuffer, NvBuffer+Size), which must lie inside
 * one devdax mapping, one MAP_SYNC mapping of a DAX file, or one range registered with
 * NvRegisterNonVolatileRange. Returns STATUS_SUCCESS and stores the token in *NvToken;
 * STATUS_INVALID_PARAMETER for a NULL NvToken, NULL NvBuffer, Size 0, an overflowing range or
 * memory that is not NV memory; STATUS_INSUFFICIENT_RESOURCES when out of tokens or memory.
 * May lock, allocate and make system calls. Free the token with RtlFreeNonVolatileToken. */
NVRTL_API NTSTATUS RtlGetNonVolatileToken(PVOID NvBuffer, SIZE_T Size, PVOID* NvToken);

/* RtlFreeNonVolatileToken: releases a token. With the verifier enabled, first reports every
 * byte range written through the token and not yet made durable. STATUS_INVALID_PARAMETER for a
 * NULL, forged or already freed token (and for FLUSH_NV_MEMORY_DEFAULT_TOKEN). */
NVRTL_API NTSTATUS RtlFreeNonVolatileToken(PVOID NvToken);

/* RtlFlushNonVolatileMemory: writes back every cache line [NvBuffer, NvBuffer+Size) touches
 * (CLWB, else CLFLUSHOPT, else CLFLUSH; skipped on an eADR platform) and then drains (SFENCE)
 * unless Flags is FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN. Size 0 flushes nothing but still drains when
 * asked. STATUS_INVALID_PARAMETER for a bad token, unknown flag bits, a NULL NvBuffer with
 * non-zero Size, or a range outside the token's region. */
NVRTL_API NTSTATUS RtlFlushNonVolatileMemory(PVOID NvToken, PVOID NvBuffer, SIZE_T Size,
                                             ULONG Flags);

/* RtlFlushNonVolatileMemoryRanges: as RtlFlushNonVolatileMemory for each of NumRanges ranges
 * (all validated before any is flushed; ranges may overlap or repeat), then one drain unless
 * Flags is FLUSH_NV_MEMORY_IN_FLAG_NO_DRAIN. NumRanges 0: drain only. */
NVRTL_API NTSTATUS RtlFlushNonVolatileMemoryRanges(PVOID NvToken, PNV_MEMORY_RANGE NvRanges,
                                                   SIZE_T NumRanges, ULONG Flags);

/* RtlDrainNonVolatileFlush: waits until the flushes and non-temporal stores this thread issued
 * are complete (SFENCE). STATUS_INVALID_PARAMETER for a bad token. */
NVRTL_API NTSTATUS RtlDrainNonVolatileFlush(PVOID NvToken);

/* RtlWriteNonVolatileMemory: copies Size bytes from Source to NvDestination with memmove's
 * result for overlapping buffers. Flags 0 is a plain copy that does not flush (large copies use
 * non-temporal stores, which a later drain completes): flushing is the caller's job, and the
 * verifier reports a forgotten flush. WRITE_NV_MEMORY_FLAG_FLUSH copies, flushes and drains
 * (add WRITE_NV_MEMORY_FLAG_NO_DRAIN to skip the drain); WRITE_NV_MEMORY_FLAG_NON_TEMPORAL
 * copies with non-temporal stores and drains; WRITE_NV_MEMORY_FLAG_PERSIST makes the data
 * durable by the cheaper way. NO_DRAIN with NON_TEMPORAL or PERSIST, or unknown bits:
 * STATUS_INVALID_PARAMETER, as are a bad token, NULL buffers with non-zero Size and a
 * destination outside the token's region. */
NVRTL_API NTSTATUS RtlWriteNonVolatileMemory(PVOID NvToken, VOID UNALIGNED* NvDestination,
                                             CONST VOID UNALIGNED* Source, SIZE_T Size,
                                             ULONG Flags);

/* RtlFillNonVolatileMemory: sets Size bytes at NvDestination to Value; Flags as for
 * RtlWriteNonVolatileMemory with the FILL_NV_MEMORY_FLAG_* names. */
NVRTL_API NTSTATUS RtlFillNonVolatileMemory(PVOID NvToken, VOID UNALIGNED* NvDestination,
                                            SIZE_T Size, CONST UCHAR Value, ULONG Flags);

/* ============================================================================================
 * Part 2: nvlab extensions (no Windows counterpart).
 * ========================================================================================== */

/* NvRegisterNonVolatileRange: declares [Base, Base+Size) as NV memory so that tokens can be
 * obtained for it (for memory that is not DAX: flushes execute, durability is not promised).
 * STATUS_INVALID_PARAMETER for NULL Base, Size 0, overflow or overlap with a registered range. */
NVRTL_API NTSTATUS NvRegisterNonVolatileRange(PVOID Base, SIZE_T Size);

/* NvUnregisterNonVolatileRange: removes the range registered at Base (tokens already obtained
 * stay valid until freed). STATUS_INVALID_PARAMETER when no range starts at Base. */
NVRTL_API NTSTATUS NvUnregisterNonVolatileRange(PVOID Base);

/* NvLabPowerCut: asks the nvlab lab to cut the power now. Under the lab's persistence model the
 * call does not return: whatever is not durable at this instruction is lost. Elsewhere it
 * returns STATUS_NOT_SUPPORTED and changes nothing. Between the call and the trigger (a CPUID
 * with EAX=0x4E564C43, ECX=0x50435554, defined in <nvrtl/nvlab_power_cut.h>) there is no
 * flush, fence, locked instruction, system call, TLS access or error-message write (only the
 * call's own stack stores), so pending flushes stay pending; a caller that needs that should
 * mlockall() first and, when dynamically linked, bind symbols at load (-Wl,-z,now). */
NVRTL_API NTSTATUS NvLabPowerCut(void);

/* Persistence domains, as Linux reports them per NVDIMM region. */
#define NV_PERSISTENCE_DOMAIN_MEMORY_CONTROLLER (1u) /* ADR: flushes needed */
#define NV_PERSISTENCE_DOMAIN_CPU_CACHE (2u)         /* eADR: flushes skipped, fences kept */

/* NvQueryPersistenceDomain: stores the persistence domain of the token's region in *Domain (from
 * sysfs persistence_domain, or NVRTL_PERSISTENCE=adr|eadr). Registered ranges and
 * FLUSH_NV_MEMORY_DEFAULT_TOKEN are MEMORY_CONTROLLER unless overridden. */
NVRTL_API NTSTATUS NvQueryPersistenceDomain(PVOID NvToken, ULONG* Domain);

/* Flush instructions (NvQueryFlushInstruction). */
#define NV_FLUSH_INSTRUCTION_CLWB (1u)
#define NV_FLUSH_INSTRUCTION_CLFLUSHOPT (2u)
#define NV_FLUSH_INSTRUCTION_CLFLUSH (3u)

/* NvQueryFlushInstruction: the flush instruction chosen at load (CPUID, or NVRTL_FLUSH). */
NVRTL_API ULONG NvQueryFlushInstruction(void);

/* NvGetLastErrorMessage: a sentence describing why the last call on this thread that failed
 * failed ("" when none has). Successful calls leave it unchanged. The pointer stays valid until
 * the thread's next failing call. */
NVRTL_API const char* NvGetLastErrorMessage(void);

/* The verifier (docs/api/verifier.md): when enabled, each token created afterwards tracks the
 * byte ranges written through RtlWriteNonVolatileMemory / RtlFillNonVolatileMemory and not yet
 * made durable; RtlFreeNonVolatileToken reports them, merged, to stderr (one line per range with
 * "unflushed offset=0x<hex> length=<decimal>"), to the report file and to the callback. Enabled
 * at load by NVRTL_VERIFIER=1. With the verifier on, the Rtl functions lock and allocate. */
NVRTL_API NTSTATUS NvEnableVerifier(int Enable);

/* NV_VERIFIER_CALLBACK: called once per unflushed range, Offset from the token's NvBuffer,
 * CallSite the return address of the last call that dirtied the range (or NULL). */
typedef void (*NV_VERIFIER_CALLBACK)(PVOID Context, PVOID NvToken, SIZE_T Offset, SIZE_T Length,
                                     PVOID CallSite);

/* NvSetVerifierCallback: installs (or, with NULL, removes) the verifier callback. */
NVRTL_API NTSTATUS NvSetVerifierCallback(NV_VERIFIER_CALLBACK Callback, PVOID Context);

/* NvSetVerifierReportFile: appends JSON lines for each unflushed range to Path (NULL closes it).
 * Also set at load by NVRTL_VERIFIER_REPORT=<file>. STATUS_ACCESS_DENIED if it cannot open. */
NVRTL_API NTSTATUS NvSetVerifierReportFile(const char* Path);

/* NvMapDaxDevice: opens a devdax character device (/dev/daxX.Y) and maps all of it shared at
 * the device's alignment; stores base and size. STATUS_INVALID_PARAMETER if Path is not a
 * devdax device, STATUS_ACCESS_DENIED if it cannot be opened or mapped. */
NVRTL_API NTSTATUS NvMapDaxDevice(const char* Path, PVOID* Base, SIZE_T* Size);

/* NvMapDaxFile: opens (creating if needed) a file on a DAX file system, extends it to at least
 * Size bytes and maps Size bytes with MAP_SHARED_VALIDATE | MAP_SYNC. STATUS_NOT_SUPPORTED when
 * the kernel refuses MAP_SYNC (not a DAX mount, or virtio-pmem); NvGetLastErrorMessage says so.
 */
NVRTL_API NTSTATUS NvMapDaxFile(const char* Path, SIZE_T Size, PVOID* Base);

/* NvUnmapNonVolatileMemory: unmaps what NvMapDaxDevice / NvMapDaxFile mapped. */
NVRTL_API NTSTATUS NvUnmapNonVolatileMemory(PVOID Base, SIZE_T Size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* NVRTL_NVRTL_H_ */
