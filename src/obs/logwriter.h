/* The access log's writer thread: the event loop hands it whole lines and
 * never waits for the disk.  A disk that does not keep up fills a bounded
 * queue; lines beyond it are counted as dropped (and said so in the error
 * log), never written in part. */
#ifndef H3G_OBS_LOGWRITER_H
#define H3G_OBS_LOGWRITER_H

#include <stddef.h>
#include <stdint.h>

/* Lines waiting for the disk, at most. */
#define H3G_LOGWRITER_QUEUE (8u << 20)

/* Starts the thread writing to fd (taken over).  0 or H3G_ERR. */
int h3g_logwriter_start(int fd);
/* Queues whole lines; 0, or H3G_ELIMIT when the queue is full (dropped). */
int h3g_logwriter_push(const char *data, size_t len);
/* Makes fd (taken over) the file from now on (a reopen). */
void h3g_logwriter_switch(int fd);
/* Writes what is queued, ends the thread, closes the file. */
void h3g_logwriter_stop(void);
int h3g_logwriter_running(void);

#endif
