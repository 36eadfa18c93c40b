/* whole_file.h: reads a whole text file for the unit tests that compare it with the code
 * (site configuration examples, man pages). Fails the running cmocka test when it cannot. */
#ifndef LCR_TESTS_UNIT_WHOLE_FILE_H
#define LCR_TESTS_UNIT_WHOLE_FILE_H

#include <stdio.h>
#include <stdlib.h>

/* The file's text, NUL-terminated; the caller frees it. */
static inline char *read_whole_file(const char *path)
{
	FILE *file = fopen(path, "r");
	char *text;
	long size;

	if (!file)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	size = ftell(file);
	assert_true(size >= 0);
	rewind(file);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
	fclose(file);
	return text;
}

#endif
