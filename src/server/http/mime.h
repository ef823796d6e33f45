/* mime.h: Content-Type by file name extension, from the system's table.
 *
 * qs_mime_load reads a mime.types file (Debian's media-types package:
 * /etc/mime.types, "TYPE EXT..." per line, # comments) once at start,
 * before the workers run; afterwards the table is only read, so lookups
 * take no lock.  Text types (text/..., JavaScript, JSON, XML, SVG) get
 * "; charset=utf-8".  Extensions the file does not name, or every one when
 * no file could be read, come from a short built-in list.
 */
#ifndef QS_SERVER_MIME_H
#define QS_SERVER_MIME_H

#include <stddef.h>

#define QS_MIME_FILE "/etc/mime.types"

/* qs_mime_load replaces the table with |path|'s.  Returns the number of
 * extensions read, or -errno (the built-in list stays in use). */
int qs_mime_load(const char *path);

/* qs_mime_unload frees the loaded table (back to the built-in list). */
void qs_mime_unload(void);

/* qs_mime_type returns the content type for file name |name| (the part
 * after its last dot, case-insensitive), application/octet-stream when
 * unknown. */
const char *qs_mime_type(const char *name);

#endif
