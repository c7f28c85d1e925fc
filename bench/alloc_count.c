/* LD_PRELOAD shim: counts heap allocations (malloc, calloc, realloc,
 * aligned allocations; operator new goes through malloc) and writes the
 * count to $ALLOC_COUNT_FILE when the process exits normally. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);

static unsigned long count;

void* malloc(size_t n) { __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); return __libc_realloc(p, n); }
void* aligned_alloc(size_t a, size_t n) { __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); return __libc_memalign(a, n); }
void* memalign(size_t a, size_t n) { __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED); return __libc_memalign(a, n); }
int posix_memalign(void** p, size_t a, size_t n)
{
  __atomic_fetch_add(&count, 1, __ATOMIC_RELAXED);
  *p = __libc_memalign(a, n);
  return *p ? 0 : 12;
}

__attribute__((destructor)) static void report(void)
{
  const char* path = getenv("ALLOC_COUNT_FILE");
  if (!path) return;
  FILE* f = fopen(path, "w");
  if (!f) return;
  fprintf(f, "%lu\n", count);
  fclose(f);
}
