/*
 * The log file's level (--level, PUT /logger): what reaches the file at
 * each level, whatever stderr gets.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/log.h"

static char *file_text(FILE *f)
{
	static char buf[4096];
	fflush(f);
	rewind(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	return buf;
}

Test(log, the_level_decides_what_the_log_file_gets)
{
	cr_assert_eq(log_level_parse("Warning"), LOG_LEVEL_ERROR);
	cr_assert_eq(log_level_parse("info"), LOG_LEVEL_INFO);
	cr_assert_eq(log_level_parse("TRACE"), LOG_LEVEL_DEBUG);
	cr_assert_eq(log_level_parse("Off"), LOG_LEVEL_OFF);
	cr_assert_eq(log_level_parse("Verbose"), -1);

	static const struct { enum log_level level; bool err, info, debug; } want[] = {
		{LOG_LEVEL_OFF, false, false, false},
		{LOG_LEVEL_ERROR, true, false, false},
		{LOG_LEVEL_INFO, true, true, false},
		{LOG_LEVEL_DEBUG, true, true, true},
	};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		FILE *f = tmpfile();
		cr_assert_not_null(f);
		log_set_fd(fileno(f));
		log_set_level(want[i].level);
		log_err("an error %u", i);
		log_info("some progress %u", i);
		log_debug("a detail %u", i);
		log_set_fd(-1);
		const char *t = file_text(f);
		cr_assert_eq(strstr(t, "an error") != NULL, want[i].err, "level %u: %s", i, t);
		cr_assert_eq(strstr(t, "some progress") != NULL, want[i].info, "level %u: %s", i, t);
		cr_assert_eq(strstr(t, "a detail") != NULL, want[i].debug, "level %u: %s", i, t);
		fclose(f);
	}
	log_set_level(LOG_LEVEL_INFO);
}
