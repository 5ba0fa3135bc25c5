/*
 * replay.c: runs a fuzz target over files (a corpus) without libFuzzer,
 * so "make check" replays every corpus under any compiler and under the
 * sanitizers. Prints TAP: one line per file. With no arguments, the
 * corpus is $SRCDIR/tests/fuzz/corpus/NAME for a program called
 * replay-NAME.
 */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int, char **);

static int
replay_corpus(const char *argv0)
{
	const char *name = strrchr(argv0, '/'), *src = getenv("SRCDIR");
	char dir[4096], **args = NULL;
	struct dirent *de;
	DIR *d;
	int n = 0, rc;

	name = name != NULL ? name + 1 : argv0;
	if (strncmp(name, "replay-", 7) == 0)
		name += 7;
	snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", src != NULL ? src : ".", name);
	if ((d = opendir(dir)) == NULL) {
		printf("Bail out! cannot open corpus %s\n", dir);
		return 99;
	}
	args = calloc(1, sizeof *args);
	args[n++] = strdup(argv0);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		args = realloc(args, (size_t)(n + 2) * sizeof *args);
		args[n] = malloc(strlen(dir) + strlen(de->d_name) + 2);
		sprintf(args[n++], "%s/%s", dir, de->d_name);
	}
	closedir(d);
	args[n] = NULL;
	rc = main(n, args);
	while (n-- > 0)
		free(args[n]);
	free(args);
	return rc;
}

int
main(int argc, char **argv)
{
	int i;

	if (argc == 1)
		return replay_corpus(argv[0]);
	printf("1..%d\n", argc - 1);
	for (i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0, n;

		if (f == NULL) {
			printf("not ok %d - %s: cannot open\n", i, argv[i]);
			return 1;
		}
		do {
			if (len + 4096 > cap)
				buf = realloc(buf, cap = cap * 2 + 8192);
			n = fread(buf + len, 1, cap - len, f);
			len += n;
		} while (n > 0);
		fclose(f);
		/* An assertion or sanitizer report aborts before the ok line. */
		LLVMFuzzerTestOneInput(buf, len);
		printf("ok %d - %s\n", i, argv[i]);
		free(buf);
	}
	return 0;
}
