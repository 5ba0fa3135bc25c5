/*
 * prom.c: pieces of the Prometheus text exposition format (version
 * 0.0.4) shared by the series of metrics.c and gpus.c: a label, its
 * value escaped as the format wants (backslash, double quote, line
 * feed). Apart so that gpus.c needs nothing else of metrics.c.
 */
#include "config.h"
#include "gateway.h"

#include <event2/buffer.h>

void
prom_label(struct evbuffer *b, const char *name, const char *value, int first)
{
	const char *p;

	evbuffer_add_printf(b, "%s%s=\"", first ? "" : ",", name);
	for (p = value != NULL ? value : ""; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
}
