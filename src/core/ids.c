/* SPDX-License-Identifier: Apache-2.0 */
/* Random identifiers from libsodium's CSPRNG. */
#include "core/ids.h"

#include <sodium.h>
#include <stdio.h>

int tr_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void tr_ids_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void tr_ids_run_id(char out[33])
{
	uint8_t raw[16];
	randombytes_buf(raw, sizeof(raw));
	raw[6] = (uint8_t)((raw[6] & 0x0f) | 0x40); /* uuid4 version and variant bits */
	raw[8] = (uint8_t)((raw[8] & 0x3f) | 0x80);
	tr_ids_hex(raw, sizeof(raw), out);
}

static const char *const adjectives[] = {
    "able",   "bold",	"brave", "bright", "calm",   "clever", "crisp",	 "eager",
    "fair",   "gentle", "grand", "honest", "jolly",  "keen",   "lively", "lucky",
    "mellow", "nimble", "proud", "quick",  "quiet",  "rare",   "sharp",	 "shy",
    "silent", "smart",	"sunny", "swift",  "tender", "vast",   "warm",	 "wise"};
static const char *const animals[] = {
    "ant", "bat",  "bear", "bee",  "boar", "carp",  "cat", "colt", "crab", "crow", "deer",
    "doe", "dove", "duck", "eel",  "elk",  "finch", "fox", "frog", "gnu",  "hare", "hawk",
    "hen", "lark", "lynx", "mole", "moth", "owl",   "ram", "seal", "slug", "wolf"};

void tr_ids_run_name(char *out, size_t n)
{
	uint32_t a = randombytes_uniform(sizeof(adjectives) / sizeof(adjectives[0]));
	uint32_t b = randombytes_uniform(sizeof(animals) / sizeof(animals[0]));
	uint32_t num = randombytes_uniform(1000);
	snprintf(out, n, "%s-%s-%u", adjectives[a], animals[b], num);
}
