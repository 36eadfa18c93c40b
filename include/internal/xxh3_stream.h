/* xxh3_stream.h: XXH3-64 over a stream of bytes at the CPU's best vector width. xxHash's
 * plain XXH3_64bits_update is its SSE2 code; on x86 its library also holds
 * XXH3_64bits_update_dispatch, which picks AVX2 or AVX-512 at run time (about three times
 * as fast where they are there). configure says which (HAVE_XXH3_DISPATCH). Both give the
 * same hash: the vector width changes the speed, never the value. */
#ifndef LCR_INTERNAL_XXH3_STREAM_H
#define LCR_INTERNAL_XXH3_STREAM_H

#include <stddef.h>
#include <xxhash.h>
#ifdef HAVE_XXH3_DISPATCH
#include <xxh_x86dispatch.h>
#endif

static inline void xxh3_stream_update(XXH3_state_t *state, const void *bytes, size_t len)
{
#ifdef HAVE_XXH3_DISPATCH
	XXH3_64bits_update_dispatch(state, bytes, len);
#else
	XXH3_64bits_update(state, bytes, len);
#endif
}

#endif
