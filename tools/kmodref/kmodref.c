// kmodref is kmodboot's reference oracle: it asks the system's libkmod (and glibc's fnmatch)
// the questions kmodboot's Go matcher must answer identically, so tests can compare the two.
//
// Synopsis:
//
//	kmodref resolve MODDIR            < aliases   > "alias<TAB>mod1,mod2,..."
//	kmodref bench [-r ROUNDS] [-w N] MODDIR < aliases   > timing summary
//	kmodref fnmatch                   < "HEXPATTERN HEXSTRING" lines   > "1" or "0" lines
//
// Description:
//
// MODDIR is a module directory (lib/modules/<release>) on which depmod has run. libkmod is
// opened with kmod_new(MODDIR, {no config paths}) so the host's /etc/modprobe.d cannot change
// answers, and kmod_load_resources() so lookups use the mmap'ed indexes, as modprobe does.
//
// resolve reads one alias per line and runs kmod_module_new_from_lookup on it, printing the
// alias, a tab, and the sorted, deduplicated names of the modules found (empty when none).
// A lookup error prints "!" and the errno value instead of names (EINVAL = 22 for an alias
// that fails alias_normalize).
//
// bench times every alias's lookup (kmod_module_new_from_lookup + kmod_module_unref_list)
// ROUNDS times with clock_gettime(CLOCK_MONOTONIC), keeps each alias's fastest run (on a
// shared machine, noise only ever adds time), subtracts the measured cost of an empty
// timing, and prints "key value" lines: lookups, rounds,
// overhead_ns, mean_ns, p50_ns, p99_ns, max_ns, then "worst<TAB>ns<TAB>alias" for the N
// slowest aliases, then "alias_ns<TAB>ns<TAB>alias" for every alias in input order.
//
// fnmatch reads lines of two hex strings (so any byte but NUL can be tested) and prints
// whether fnmatch(pattern, string, 0) matched, in the C locale.
//
// Build: cc -O2 -o kmodref kmodref.c -lkmod (Debian: apt-get install libkmod-dev).
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <libkmod.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *msg) {
	fprintf(stderr, "kmodref: %s\n", msg);
	exit(2);
}

// read_lines reads stdin into an array of NUL-terminated lines without their '\n'.
static char **read_lines(size_t *count) {
	size_t n = 0, cap = 1024;
	char **lines = malloc(cap * sizeof(*lines));
	char *line = NULL;
	size_t len = 0;
	ssize_t got;
	if (lines == NULL)
		die("out of memory");
	while ((got = getline(&line, &len, stdin)) >= 0) {
		if (got > 0 && line[got - 1] == '\n')
			line[got - 1] = '\0';
		if (n == cap) {
			cap *= 2;
			lines = realloc(lines, cap * sizeof(*lines));
			if (lines == NULL)
				die("out of memory");
		}
		lines[n] = strdup(line);
		if (lines[n] == NULL)
			die("out of memory");
		n++;
	}
	free(line);
	*count = n;
	return lines;
}

static struct kmod_ctx *open_ctx(const char *moddir) {
	static const char *no_config[] = {NULL};
	struct kmod_ctx *ctx = kmod_new(moddir, no_config);
	if (ctx == NULL)
		die("kmod_new failed; is MODDIR a module directory?");
	int err = kmod_load_resources(ctx);
	if (err < 0) {
		fprintf(stderr, "kmodref: kmod_load_resources(%s): %s; run depmod -b first\n", moddir,
			strerror(-err));
		exit(2);
	}
	return ctx;
}

static int cmpstr(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int resolve(const char *moddir) {
	struct kmod_ctx *ctx = open_ctx(moddir);
	size_t count;
	char **aliases = read_lines(&count);
	for (size_t i = 0; i < count; i++) {
		struct kmod_list *list = NULL, *l;
		int err = kmod_module_new_from_lookup(ctx, aliases[i], &list);
		if (err < 0) {
			printf("%s\t!%d\n", aliases[i], -err);
			continue;
		}
		size_t n = 0, cap = 8;
		const char **names = malloc(cap * sizeof(*names));
		kmod_list_foreach(l, list) {
			if (n == cap) {
				cap *= 2;
				names = realloc(names, cap * sizeof(*names));
			}
			names[n++] = kmod_module_get_name(kmod_module_get_module(l));
		}
		// kmod_module_get_module took a reference per entry; the list holds one too.
		qsort(names, n, sizeof(*names), cmpstr);
		printf("%s\t", aliases[i]);
		for (size_t j = 0; j < n; j++) {
			if (j > 0 && strcmp(names[j], names[j - 1]) == 0)
				continue;
			printf(j > 0 ? ",%s" : "%s", names[j]);
		}
		printf("\n");
		kmod_list_foreach(l, list) {
			kmod_module_unref(kmod_module_get_module(l)); // drop our extra reference
		}
		free(names);
		kmod_module_unref_list(list);
	}
	kmod_unref(ctx);
	return 0;
}

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmpu64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct timed {
	uint64_t ns;
	size_t idx;
};

static int cmptimed_desc(const void *a, const void *b) {
	const struct timed *x = a, *y = b;
	return x->ns > y->ns ? -1 : x->ns < y->ns;
}

static int bench(const char *moddir, int rounds, int worst) {
	struct kmod_ctx *ctx = open_ctx(moddir);
	size_t count;
	char **aliases = read_lines(&count);
	if (count == 0)
		die("no aliases on stdin");
	uint64_t *samples = calloc((size_t)rounds * count, sizeof(uint64_t));
	uint64_t *tmp = calloc((size_t)rounds, sizeof(uint64_t));
	struct timed *per = calloc(count, sizeof(*per));
	if (samples == NULL || tmp == NULL || per == NULL)
		die("out of memory");

	// The cost of an empty timing, subtracted from every sample.
	uint64_t empty[1001];
	for (int i = 0; i < 1001; i++) {
		uint64_t t0 = now_ns();
		uint64_t t1 = now_ns();
		empty[i] = t1 - t0;
	}
	qsort(empty, 1001, sizeof(empty[0]), cmpu64);
	uint64_t overhead = empty[500];

	// One untimed warm-up pass faults the indexes in, as a long-running modprobe would.
	for (size_t i = 0; i < count; i++) {
		struct kmod_list *list = NULL;
		if (kmod_module_new_from_lookup(ctx, aliases[i], &list) >= 0)
			kmod_module_unref_list(list);
	}
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < count; i++) {
			struct kmod_list *list = NULL;
			uint64_t t0 = now_ns();
			int err = kmod_module_new_from_lookup(ctx, aliases[i], &list);
			if (err >= 0)
				kmod_module_unref_list(list);
			uint64_t t1 = now_ns();
			uint64_t d = t1 - t0;
			samples[(size_t)r * count + i] = d > overhead ? d - overhead : 0;
		}
	}
	uint64_t *sorted = calloc(count, sizeof(uint64_t));
	double sum = 0;
	for (size_t i = 0; i < count; i++) {
		for (int r = 0; r < rounds; r++)
			tmp[r] = samples[(size_t)r * count + i];
		qsort(tmp, (size_t)rounds, sizeof(tmp[0]), cmpu64);
		per[i].ns = tmp[0]; // the fastest run
		per[i].idx = i;
		sorted[i] = per[i].ns;
		sum += (double)per[i].ns;
	}
	qsort(sorted, count, sizeof(sorted[0]), cmpu64);
	printf("lookups %zu\n", count);
	printf("rounds %d\n", rounds);
	printf("overhead_ns %llu\n", (unsigned long long)overhead);
	printf("mean_ns %.0f\n", sum / (double)count);
	printf("p50_ns %llu\n", (unsigned long long)sorted[count / 2]);
	printf("p99_ns %llu\n", (unsigned long long)sorted[(count * 99) / 100]);
	printf("max_ns %llu\n", (unsigned long long)sorted[count - 1]);
	for (size_t i = 0; i < count; i++)
		printf("alias_ns\t%llu\t%s\n", (unsigned long long)per[i].ns, aliases[i]);
	qsort(per, count, sizeof(per[0]), cmptimed_desc);
	for (size_t i = 0; i < count && (int)i < worst; i++)
		printf("worst\t%llu\t%s\n", (unsigned long long)per[i].ns, aliases[per[i].idx]);
	kmod_unref(ctx);
	return 0;
}

static int hexval(int c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

// unhex decodes the hex digits in [s, end) into a NUL-terminated buffer.
static char *unhex(const char *s, const char *end) {
	size_t n = (size_t)(end - s);
	if (n % 2 != 0)
		die("odd-length hex string");
	char *out = malloc(n / 2 + 1);
	if (out == NULL)
		die("out of memory");
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			die("bad hex digit");
		out[i] = (char)(hi << 4 | lo);
	}
	out[n / 2] = '\0';
	return out;
}

static int do_fnmatch(void) {
	char *line = NULL;
	size_t len = 0;
	ssize_t got;
	while ((got = getline(&line, &len, stdin)) >= 0) {
		if (got > 0 && line[got - 1] == '\n')
			line[--got] = '\0';
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			die("fnmatch: want \"HEXPATTERN HEXSTRING\" lines");
		char *pat = unhex(line, sp);
		char *str = unhex(sp + 1, line + got);
		printf("%d\n", fnmatch(pat, str, 0) == 0);
		fflush(stdout); // Callers may feed one line at a time.
		free(pat);
		free(str);
	}
	free(line);
	return 0;
}

int main(int argc, char **argv) {
	if (argc >= 2 && strcmp(argv[1], "resolve") == 0 && argc == 3)
		return resolve(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "fnmatch") == 0 && argc == 2)
		return do_fnmatch();
	if (argc >= 3 && strcmp(argv[1], "bench") == 0) {
		int rounds = 5, worst = 10, i = 2;
		for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
			if (strcmp(argv[i], "-r") == 0)
				rounds = atoi(argv[i + 1]);
			else if (strcmp(argv[i], "-w") == 0)
				worst = atoi(argv[i + 1]);
			else
				die("bench: unknown flag (want -r ROUNDS, -w N)");
		}
		if (rounds < 1 || i + 1 != argc)
			die("usage: kmodref bench [-r ROUNDS] [-w N] MODDIR");
		return bench(argv[i], rounds, worst);
	}
	fprintf(stderr, "usage: kmodref resolve MODDIR | kmodref bench [-r ROUNDS] [-w N] MODDIR | "
			"kmodref fnmatch\n");
	return 2;
}
