/* File extension to Content-Type (sans-I/O). */
#ifndef H3G_STATIC_MIME_H
#define H3G_STATIC_MIME_H

/* Type for a file name by its extension (case-insensitive);
 * "application/octet-stream" when unknown. */
const char *h3g_mime_type(const char *filename);

#endif
