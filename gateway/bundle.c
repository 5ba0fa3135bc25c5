/*
 * bundle.c: where the files that come with paia-gateway are: the demo
 * game, the sample program, the game pod template. A gateway run from
 * the build tree finds them there, an installed one where make install
 * put them.
 */
#include "config.h"
#include "gateway.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Next to the running binary, then (a gateway run from the build tree)
 * the build tree's demo/, then where it is installed, then the source
 * tree's demo/.
 */
char *
bundle_find(const char *name, const char *installed_dir)
{
	const char *dirs[4];
	char *exe = util_exe_dir(), *path, *gwdir = realpath(PAIA_BUILDDIR "/gateway", NULL);
	size_t i;

	dirs[0] = exe;
	dirs[1] = gwdir != NULL && strcmp(gwdir, exe) == 0 ? PAIA_BUILDDIR "/demo" : NULL;
	dirs[2] = installed_dir;
	dirs[3] = PAIA_SRCDIR "/demo";
	free(gwdir);
	for (i = 0; i < nitems(dirs); i++) {
		if (dirs[i] == NULL)
			continue;
		xasprintf(&path, "%s/%s", dirs[i], name);
		if (access(path, R_OK) == 0) {
			free(exe);
			return path;
		}
		free(path);
	}
	free(exe);
	return NULL;
}
