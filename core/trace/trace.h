/* The job trace: the bytes lunar sends to GitLab as a job's log.
 *
 * Everything written goes through, in order:
 *   1. masking (reference §6.6), also when a secret is split across writes:
 *      - the exact value of every masked variable becomes "[MASKED]";
 *        occurrences that overlap or touch inside one run are hidden as one
 *        run (no tail of a second secret shows), the longest value wins
 *        where two start at the same byte;
 *      - the value after a sensitive URL parameter (private_token=,
 *        authenticity_token=, rss_token=, x-amz-signature=,
 *        x-amz-credential=, x-amz-security-token=; the name in any case)
 *        up to the next & # " ' < > or whitespace;
 *      - the token characters [A-Za-z0-9_.=-] after a token prefix; the
 *        prefix stays visible ("glpat-[MASKED]"). glpat- always, plus the
 *        first 15 distinct of: the job's token_prefixes, then GitLab Runner's
 *        defaults (gloas-, gldt-, glrt-, glcbt-, glrtr-, glptt-, glft-,
 *        glimt-, glagent-, glsoat-, glffct-, _gitlab_session=, gltok-).
 *      Bytes that may start a secret are held back until the next write or
 *      lunar_trace_flush decides (at most the longest pattern, less one);
 *   2. invalid UTF-8 replaced by U+FFFD, one per maximal ill-formed subpart
 *      (Unicode's practice, what Python's "replace" does); a sequence split
 *      across writes is kept whole;
 *   3. the output limit (§6.5): the write that crosses `limit` stored bytes
 *      is cut at a character boundary, then one notice line is stored
 *      (yellow bold: the limit in bytes, the job continues, no more output
 *      is collected) and every later byte is dropped; lunar_trace_truncated()
 *      then says so. The notice counts in the size and the CRC.
 * The stored bytes are the trace: offsets, size and CRC-32 are of them.
 *
 * A trace may start at a base offset (a runner resuming a job after a
 * restart: GitLab already holds `base` bytes that this process never saw).
 * The CRC is then known only when the caller gives the CRC of those bytes.
 * A base past the limit means the notice was already written.
 *
 * Memory: the stored bytes from the oldest offset the caller still needs
 * (lunar_trace_release) to the end, plus the held-back tail. Single-threaded;
 * no I/O.
 */
#ifndef LUNAR_TRACE_TRACE_H
#define LUNAR_TRACE_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define LUNAR_TRACE_LIMIT_DEFAULT (4096L * 1024L) /* output_limit 0: 4096 KiB */

typedef struct lunar_trace lunar_trace;

typedef struct lunar_trace_options {
  size_t limit;                       /* bytes; 0: LUNAR_TRACE_LIMIT_DEFAULT */
  const char *const *masked;          /* values to mask (copied); empty ones ignored */
  size_t n_masked;
  const char *const *token_prefixes;  /* extra prefixes (features.token_mask_prefixes), copied */
  size_t n_token_prefixes;
  size_t base;                        /* offset of the first byte this trace stores */
  int base_crc_known;                 /* 1: base_crc is the CRC-32 of bytes [0, base) */
  uint32_t base_crc;
} lunar_trace_options;

/* *out belongs to the caller (lunar_trace_free). Errors: LUNAR_ENOMEM. */
int lunar_trace_new(const lunar_trace_options *opt, lunar_trace **out, lunar_error *err);
void lunar_trace_free(lunar_trace *t); /* NULL-safe */

/* Appends log bytes (any chunking, any bytes). Errors: LUNAR_ENOMEM. */
int lunar_trace_write(lunar_trace *t, const char *data, size_t len);

/* printf into the trace (runner lines), through the same masking. */
int lunar_trace_printf(lunar_trace *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decides the held-back bytes (end of a stream, before the final update). */
int lunar_trace_flush(lunar_trace *t);

/* Offset of the end of the stored bytes (base included). */
size_t lunar_trace_size(const lunar_trace *t);

/* The stored bytes from `offset` (borrowed, valid until the next write or
 * release); *len is how many. Returns NULL (and *len 0) when offset is
 * before what is still kept or past the end. */
const char *lunar_trace_data(const lunar_trace *t, size_t offset, size_t *len);

/* Lets the trace forget stored bytes before `offset` (GitLab has them). */
void lunar_trace_release(lunar_trace *t, size_t offset);

/* CRC-32 (IEEE, zlib's) of bytes [0, size). Returns 0 and sets *crc, or -1
 * when unknown (resumed without base_crc). */
int lunar_trace_crc32(const lunar_trace *t, uint32_t *crc);

/* 1 once the output limit was reached. */
int lunar_trace_truncated(const lunar_trace *t);

/* Bytes hidden so far: masked values and token/parameter characters (metrics). */
size_t lunar_trace_masked_count(const lunar_trace *t);

#endif
