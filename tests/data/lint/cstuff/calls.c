/* Fixture written for picf's lint tests: syscall numbers in C. */
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __x86_64__
#define MEMFD_CODE 319
#else
#define MEMFD_CODE SYS_memfd_create
#endif

#define CLONE3_CODE 435

int a(void) { return syscall(SYS_execveat, 0, "", 0, 0, 0); }
int b(void) { return syscall(MEMFD_CODE, "x", 0); }
int c(void) { return syscall(318, 0, 0, 0); } /* want: syscall-number-hardcoded */
int d(void) { return syscall(CLONE3_CODE, 0, 0); }

#if defined(__x86_64__) \
    || defined(__i386__)
#define SECCOMP_CODE 317
#else
#define SECCOMP_CODE SYS_seccomp
#endif
int e(void) { return syscall(SECCOMP_CODE, 0, 0, 0); }

#if defined(SYS_getrandom)
#define GETRANDOM_CODE SYS_getrandom
#elif defined(__arm__) && __ARM_ARCH >= 6
#define GETRANDOM_CODE 384
#elif defined(__aarch64__)
#define GETRANDOM_CODE 278
#endif
int f(void) { return syscall(GETRANDOM_CODE, 0, 0, 0); }
