/* options.h: the configuration schema of paia-gateway.conf(5). */
#ifndef PAIA_OPTIONS_H
#define PAIA_OPTIONS_H

#include "common.h"

extern const struct config_key options_schema[];
extern const char *options_passthrough[];
/* Default state folder: /var/lib/paia, or $TMPDIR/paia-<uid> when embedded. */
char *options_default_state_dir(int embedded);

#endif
