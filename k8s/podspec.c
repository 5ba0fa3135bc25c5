/*
 * podspec.c: the pod builder. A pod template is JSON with ${NAME}
 * placeholders inside its strings (or standing bare for numbers); each
 * becomes its value escaped for a JSON string, so no value, whatever a
 * task message carried, can end a string and add a field. The result
 * must parse as JSON, else the error names the template and the byte.
 *
 * It does not know what the values mean (runner-k8s.c chooses them) nor
 * send anything (pods.c does).
 */
#include "config.h"
#include "k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "k8s-int.h"

/* s as the inside of a JSON string. */
static void
podspec_escape(struct kbuf *b, const char *s)
{
	char esc[8];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			kbuf_add(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			kbuf_add(b, esc, 6);
		} else
			kbuf_add(b, (const char *)&c, 1);
	}
}

char *
k8s_pod_build(const char *template, const char *name, const char *const *vars, char **cause)
{
	struct kbuf b = { NULL, 0, 0 };
	struct kjson js;
	const char *p = template, *q, *end;
	size_t i, n;

	while ((q = strstr(p, "${")) != NULL) {
		kbuf_add(&b, p, (size_t)(q - p));
		if ((end = strchr(q, '}')) == NULL)
			break;
		n = (size_t)(end - q - 2);
		for (i = 0; vars[i] != NULL; i += 2)
			if (strlen(vars[i]) == n && strncmp(vars[i], q + 2, n) == 0)
				break;
		if (vars[i] == NULL) {
			xasprintf(cause, "pod template %s: unknown placeholder ${%.*s}", name, (int)n,
			    q + 2);
			kbuf_free(&b);
			return NULL;
		}
		podspec_escape(&b, vars[i + 1]);
		p = end + 1;
	}
	kbuf_add(&b, p, strlen(p) + 1);
	b.len--;
	kjson_init(&js, b.p, b.len);
	if ((q = kjson_skip(&js, b.p)) == NULL || *kjson_ws(&js, q) != '\0') {
		xasprintf(cause, "pod template %s: not JSON once filled (near byte %zu)", name,
		    (size_t)((js.err_at != NULL ? js.err_at : q != NULL ? q : b.p) - b.p));
		kbuf_free(&b);
		return NULL;
	}
	return b.p;
}
