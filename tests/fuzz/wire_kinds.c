/* wire_kinds.c: prints every payload kind of the wire, one a line, from the list that
 * include/internal/wire.h keeps (WIRE_MESSAGES) and tests/fuzz/fuzz_wire.c fuzzes, so that
 * tests/fuzz/wire_seeds.sh can check that each has a seed. */
#include "config.h"

#include <stdio.h>

#include "internal/wire.h"

#define PRINT_KIND(kind) puts(#kind);

int main(void)
{
	WIRE_MESSAGES(PRINT_KIND)
	return 0;
}
