#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vmm/config.h"

static enum config_result parse(struct vm_config *cfg, char *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	argv[argc++] = "kestrel";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	/* --help/--version print to stdout; keep test output clean. */
	FILE *saved = stdout;
	stdout = fopen("/dev/null", "w");
	enum config_result r = config_parse(argc, argv, cfg, err, 256);
	fclose(stdout);
	stdout = saved;
	return r;
}

#define EXPECT_ERROR(substr, ...)                                                      \
	do {                                                                           \
		const char *const a[] = {__VA_ARGS__, NULL};                           \
		struct vm_config cfg;                                                  \
		char err[256];                                                         \
		cr_assert_eq(parse(&cfg, err, a), CONFIG_ERROR);                       \
		cr_assert(strstr(err, substr), "message '%s' lacks '%s'", err, substr); \
	} while (0)

Test(config, defaults)
{
	const char *const a[] = {"--kernel", "vmlinuz", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, a), CONFIG_OK);
	cr_assert_eq(cfg.mem_size, 512ull << 20);
	cr_assert_eq(cfg.cpus, 1);
	cr_assert_eq(cfg.console, CONSOLE_STDIO);
	cr_assert_str_eq(cfg.kernel, "vmlinuz");
	cr_assert_null(cfg.initrd);
}

Test(config, all_options)
{
	const char *const a[] = {"--kernel", "k", "--initrd", "i", "--cmdline", "a b", "--mem", "2G",
				 "--cpus", "4", "--console", "/tmp/out", "--stats", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, a), CONFIG_OK, "%s", err);
	cr_assert_eq(cfg.mem_size, 2ull << 30);
	cr_assert_eq(cfg.cpus, 4);
	cr_assert_eq(cfg.console, CONSOLE_FILE);
	cr_assert_str_eq(cfg.console_path, "/tmp/out");
	cr_assert_str_eq(cfg.cmdline, "a b");
	cr_assert(cfg.stats);
}

Test(config, sizes)
{
	uint64_t v;
	cr_assert_eq(config_parse_size("128M", &v), 0);
	cr_assert_eq(v, 128ull << 20);
	cr_assert_eq(config_parse_size("65536K", &v), 0);
	cr_assert_eq(v, 64ull << 20);
	cr_assert_eq(config_parse_size("1g", &v), 0);
	cr_assert_eq(v, 1ull << 30);
	cr_assert_eq(config_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
	cr_assert_neq(config_parse_size("", &v), 0);
	cr_assert_neq(config_parse_size("12X", &v), 0);
	cr_assert_neq(config_parse_size("-1M", &v), 0);
	cr_assert_neq(config_parse_size("1MB", &v), 0);
	cr_assert_neq(config_parse_size("99999999999999999999G", &v), 0);
}

Test(config, errors_name_the_problem)
{
	EXPECT_ERROR("--kernel is required", "--mem", "1G");
	EXPECT_ERROR("unknown option '--frobnicate'", "--kernel", "k", "--frobnicate");
	EXPECT_ERROR("--cpus: 0 is outside 1..32", "--kernel", "k", "--cpus", "0");
	EXPECT_ERROR("--cpus: 33 is outside", "--kernel", "k", "--cpus", "33");
	EXPECT_ERROR("--cpus: 'two' is not a number", "--kernel", "k", "--cpus", "two");
	EXPECT_ERROR("--mem: 'lots' is not a size", "--kernel", "k", "--mem", "lots");
	EXPECT_ERROR("--mem: 1M is outside", "--kernel", "k", "--mem", "1M");
	EXPECT_ERROR("needs a value", "--kernel");
	EXPECT_ERROR("unexpected argument 'extra'", "--kernel", "k", "extra");
	EXPECT_ERROR("--disk: disks are not supported", "--kernel", "k", "--disk", "path=x");
	EXPECT_ERROR("--boot-entry: 'bios'", "--kernel", "k", "--boot-entry", "bios");
	EXPECT_ERROR("--console: empty", "--kernel", "k", "--console", "");
}

Test(config, help_and_version_exit_zero)
{
	const char *const h[] = {"--help", NULL};
	const char *const v[] = {"--version", NULL};
	struct vm_config cfg;
	char err[256];
	cr_assert_eq(parse(&cfg, err, h), CONFIG_EXIT_OK);
	cr_assert_eq(parse(&cfg, err, v), CONFIG_EXIT_OK);
}
