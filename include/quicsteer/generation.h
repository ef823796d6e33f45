/* generation.h: generation numbers of an instance, and their order.
 *
 * A generation is one server process of an instance (a takeover starts the
 * next).  Its number is in every CID it mints (the routing key, 16 bits),
 * in its relay and control socket names and in its BPF slot, so a number
 * must never be handed out again while anything of an older holder may
 * exist.  Numbers run 1..QS_GEN_MAX and then wrap to 1 (0 means "none");
 * QS_GEN_MAX is a multiple of 7, so the user-space codepoint of generation
 * g, (g - 1) mod 7, still differs between neighbours across the wrap.
 * "Newer" is serial-number arithmetic (RFC 1982) on that ring: a is newer
 * than b when it lies less than half the ring ahead; with at most a handful
 * of generations alive at once this never misorders.
 *
 * The last number handed out is kept in /run/quicsteer/NAME.generation,
 * which survives the instance (only a reboot clears it, and with it every
 * older generation), so a fresh start does not reuse its predecessors'
 * numbers either.
 */
#ifndef QUICSTEER_GENERATION_H
#define QUICSTEER_GENERATION_H

#include <stddef.h>
#include <stdint.h>

#define QS_GEN_MAX 65534u

static inline uint16_t qs_gen_next(uint16_t g) {
  return (uint16_t)(g == 0 || g >= QS_GEN_MAX ? 1 : g + 1);
}

static inline uint16_t qs_gen_prev(uint16_t g) {
  return (uint16_t)(g <= 1 || g > QS_GEN_MAX ? QS_GEN_MAX : g - 1);
}

/* qs_gen_newer: is |a| newer than |b|?  (both in 1..QS_GEN_MAX) */
static inline int qs_gen_newer(uint16_t a, uint16_t b) {
  uint32_t d = ((uint32_t)a + QS_GEN_MAX - b) % QS_GEN_MAX;
  return d != 0 && d < QS_GEN_MAX / 2;
}

#ifdef __cplusplus
extern "C" {
#endif

/* qs_gen_claim picks the generation a starting process of instance |name|
 * serves as: newer than every generation in |live| (|nlive| numbers) and
 * than the last one recorded, records it (under a lock on the record, so
 * concurrent starters get different numbers), and returns it in *gen.
 * Returns 0, QS_ERR_SYS (the record cannot be read or written: *gen then
 * is only newer than |live|; errno set) or QS_ERR_INVAL. */
int qs_gen_claim(const char *name, const uint16_t *live, size_t nlive, uint16_t *gen);

/* qs_gen_last returns the last generation recorded for |name|, 0 if none. */
uint16_t qs_gen_last(const char *name);

#ifdef __cplusplus
}
#endif

#endif
