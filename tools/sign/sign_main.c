/* alfaspark-sign: make keys, sign firmware images, verify them, show their header, export public keys as C. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alfa/fw_verify.h"
#include "alfa/fwimg.h"
#include "alfa/model.h"
#include "fwsign.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: alfaspark-sign keygen KEY.pem PUB.pem\n"
            "       alfaspark-sign sign --key KEY.pem --version X.Y.Z [--device-type N] [--hw-class N]\n"
            "                           [--counter N] IN.bin OUT.img\n"
            "       alfaspark-sign verify --pub PUB.pem [--pub PUB2.pem ...] IMAGE\n"
            "       alfaspark-sign info IMAGE\n"
            "       alfaspark-sign export-c OUT.c PUB.pem...    (the public keys a build trusts, as C)\n"
            "Images: a 128-byte signed manifest (ECDSA-P256 over SHA-256) then the payload (docs/ota.md).\n"
            "verify exits 0 only for an intact image signed by one of the keys; keys never go in a repository.\n");
}

static uint8_t *read_file(const char *path, uint32_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "alfaspark-sign: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1u << 16, n = 0;
    uint8_t *b = malloc(cap);
    size_t got;
    while (b != NULL && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap && n < (size_t)ALFA_FWIMG_PAYLOAD_MAX + ALFA_FWIMG_MANIFEST_SIZE + 1u) {
            uint8_t *nb = realloc(b, cap * 2u);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2u;
        } else if (n == cap) {
            break;
        }
    }
    fclose(f);
    if (b == NULL || n > (size_t)ALFA_FWIMG_PAYLOAD_MAX + ALFA_FWIMG_MANIFEST_SIZE) {
        fprintf(stderr, "alfaspark-sign: %s: too large\n", path);
        free(b);
        return NULL;
    }
    *len = (uint32_t)n;
    return b;
}

static int parse_u8(const char *s, uint8_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 0);
    if (end == s || *end != '\0' || v > 255u) return -1;
    *out = (uint8_t)v;
    return 0;
}

static int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, 0, 'k'},         {"version", required_argument, 0, 'v'},
        {"device-type", required_argument, 0, 'd'}, {"hw-class", required_argument, 0, 'w'},
        {"counter", required_argument, 0, 'c'},     {0, 0, 0, 0},
    };
    const char *key = NULL, *version = NULL;
    alfa_fwimg_hdr_t h;
    memset(&h, 0, sizeof(h));
    h.device_type = ALFA_DEV_PACK;
    h.hw_class = ALFA_HW_CLASS_DEFAULT;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        unsigned long long c;
        switch (o) {
        case 'k': key = optarg; break;
        case 'v': version = optarg; break;
        case 'd':
            if (parse_u8(optarg, &h.device_type) < 0 || h.device_type == 0u) {
                fprintf(stderr, "alfaspark-sign: --device-type must be 1..255\n");
                return 2;
            }
            break;
        case 'w':
            if (parse_u8(optarg, &h.hw_class) < 0) {
                fprintf(stderr, "alfaspark-sign: --hw-class must be 0..255\n");
                return 2;
            }
            break;
        case 'c':
            errno = 0;
            c = strtoull(optarg, &end, 0);
            if (errno || end == optarg || *end || c > 0xFFFFFFFFull) {
                fprintf(stderr, "alfaspark-sign: --counter must be 0..4294967295\n");
                return 2;
            }
            h.security_counter = (uint32_t)c;
            break;
        default: usage(stderr); return 2;
        }
    }
    if (key == NULL || version == NULL || argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    if (alfa_fwsign_parse_version(version, &h.major, &h.minor, &h.patch) < 0) {
        fprintf(stderr, "alfaspark-sign: version \"%s\" is not X.Y.Z within 31.63.31\n", version);
        return 2;
    }
    alfa_fwsign_key_t k;
    if (alfa_fwsign_load(key, &k) < 0) {
        fprintf(stderr, "alfaspark-sign: %s is not a P-256 private key\n", key);
        return 1;
    }
    uint32_t len = 0;
    uint8_t *in = read_file(argv[optind], &len);
    if (in == NULL) return 1;
    if (len == 0u || len > ALFA_FWIMG_PAYLOAD_MAX) {
        fprintf(stderr, "alfaspark-sign: %s: payload must be 1..%u bytes\n", argv[optind], ALFA_FWIMG_PAYLOAD_MAX);
        free(in);
        return 1;
    }
    h.build_unix_s = (uint32_t)time(NULL);
    const char *sde = getenv("SOURCE_DATE_EPOCH"); /* reproducible builds */
    if (sde != NULL) h.build_unix_s = (uint32_t)strtoul(sde, NULL, 10);
    uint8_t *out = malloc((size_t)len + ALFA_FWIMG_MANIFEST_SIZE);
    int rc = out != NULL ? alfa_fwsign_image(&k, &h, in, len, out) : -1;
    memset(&k, 0, sizeof(k));
    free(in);
    FILE *f = rc == 0 ? fopen(argv[optind + 1], "wb") : NULL;
    if (f == NULL || fwrite(out, 1, (size_t)len + ALFA_FWIMG_MANIFEST_SIZE, f) != (size_t)len + ALFA_FWIMG_MANIFEST_SIZE ||
        fclose(f) != 0) {
        fprintf(stderr, "alfaspark-sign: cannot write %s\n", argv[optind + 1]);
        free(out);
        return 1;
    }
    free(out);
    printf("%s: %u.%u.%u, %u bytes, device type %u, hardware class %u, counter %" PRIu32 "\n", argv[optind + 1], h.major,
           h.minor, h.patch, len, h.device_type, h.hw_class, h.security_counter);
    return 0;
}

/* Parse and check an image file's manifest and payload hash: 0 when consistent. */
static int check_image(const uint8_t *img, uint32_t len, alfa_fwimg_hdr_t *h, const char **why)
{
    if (len < ALFA_FWIMG_MANIFEST_SIZE) {
        *why = "shorter than a manifest";
        return -1;
    }
    int rc = alfa_fwimg_parse(img, h);
    if (rc < 0) {
        *why = rc == -7 ? "not an Alfaspark image (magic, format or algorithm)" : "header field out of range";
        return -1;
    }
    if (h->image_size != len - ALFA_FWIMG_MANIFEST_SIZE) {
        *why = "payload size differs from the header";
        return -1;
    }
    uint8_t d[32];
    alfa_sha256(img + ALFA_FWIMG_MANIFEST_SIZE, h->image_size, d);
    if (memcmp(d, h->sha256, 32) != 0) {
        *why = "payload SHA-256 differs from the header (tampered or damaged)";
        return -1;
    }
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    uint8_t keys[16][ALFA_FW_KEY_SIZE];
    size_t nkeys = 0;
    int i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--pub") == 0; i += 2) {
        if (nkeys == 16u || alfa_fw_pub_load(argv[i + 1], keys[nkeys]) < 0) {
            fprintf(stderr, "alfaspark-sign: %s is not a P-256 public key\n", argv[i + 1]);
            return 2;
        }
        nkeys++;
    }
    if (nkeys == 0u || argc - i != 1) {
        usage(stderr);
        return 2;
    }
    uint32_t len = 0;
    uint8_t *img = read_file(argv[i], &len);
    if (img == NULL) return 1;
    alfa_fwimg_hdr_t h;
    const char *why = NULL;
    int rc = check_image(img, len, &h, &why);
    if (rc == 0) {
        uint8_t d[32];
        alfa_fwimg_signed_digest(img, d);
        if (alfa_fw_verify_any((const uint8_t(*)[ALFA_FW_KEY_SIZE])keys, nkeys, d, img + ALFA_FWIMG_HEADER_SIZE) != 0) {
            why = "signature does not verify with the given key(s) (unsigned, altered or another key)";
            rc = -1;
        }
    }
    free(img);
    if (rc != 0) {
        fprintf(stderr, "%s: INVALID: %s\n", argv[i], why);
        return 1;
    }
    printf("%s: OK %u.%u.%u\n", argv[i], h.major, h.minor, h.patch);
    return 0;
}

static int cmd_info(int argc, char **argv)
{
    if (argc != 2) {
        usage(stderr);
        return 2;
    }
    uint32_t len = 0;
    uint8_t *img = read_file(argv[1], &len);
    if (img == NULL) return 1;
    alfa_fwimg_hdr_t h;
    const char *why = NULL;
    int rc = check_image(img, len, &h, &why);
    if (rc < 0 && len >= ALFA_FWIMG_MANIFEST_SIZE && alfa_fwimg_parse(img, &h) == 0) {
        rc = 1; /* a readable header over a bad payload: show it, say so */
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", argv[1], why);
        free(img);
        return 1;
    }
    int sig_zero = 1;
    for (unsigned k = 0; k < ALFA_FWIMG_SIG_SIZE; k++) sig_zero &= img[ALFA_FWIMG_HEADER_SIZE + k] == 0u;
    printf("{\"format\":%u,\"signature\":\"%s\",\"device_type\":%u,\"hw_class\":%u,\"version\":\"%u.%u.%u\","
           "\"security_counter\":%" PRIu32 ",\"image_size\":%" PRIu32 ",\"key_id\":\"%08" PRIx32 "\","
           "\"build_unix_s\":%" PRIu32 ",\"sha256\":\"",
           h.format, sig_zero ? "none" : "ecdsa-p256-sha256", h.device_type, h.hw_class, h.major, h.minor, h.patch,
           h.security_counter, h.image_size, h.key_id, h.build_unix_s);
    for (unsigned k = 0; k < 32; k++) printf("%02x", h.sha256[k]);
    printf("\",\"session\":\"%08" PRIx32 "\",\"payload_ok\":%s}\n", alfa_fwimg_session_id(img), rc == 0 ? "true" : "false");
    free(img);
    return rc == 0 ? 0 : 1;
}

static int cmd_export_c(int argc, char **argv)
{
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    FILE *f = fopen(argv[1], "w");
    if (f == NULL) {
        fprintf(stderr, "alfaspark-sign: cannot write %s\n", argv[1]);
        return 1;
    }
    fprintf(f, "/* The firmware-signing public keys this build trusts (generated by alfaspark-sign export-c; do not edit). */\n"
               "#include \"alfa/fw_keys.h\"\n\nconst uint8_t alfa_fw_keys[][ALFA_FW_KEY_SIZE] = {\n");
    for (int i = 2; i < argc; i++) {
        uint8_t p[ALFA_FW_KEY_SIZE];
        if (alfa_fw_pub_load(argv[i], p) < 0) {
            fprintf(stderr, "alfaspark-sign: %s is not a P-256 public key\n", argv[i]);
            fclose(f); /* the file is being thrown away */
            if (remove(argv[1]) != 0) {
                fprintf(stderr, "alfaspark-sign: %s is left incomplete: remove it\n", argv[1]);
            }
            return 1;
        }
        fprintf(f, "    /* %s, key id %08" PRIx32 " */\n    {", argv[i], alfa_fwimg_key_id(p));
        for (unsigned k = 0; k < ALFA_FW_KEY_SIZE; k++) fprintf(f, "%s0x%02x", k ? "," : "", p[k]);
        fprintf(f, "},\n");
    }
    fprintf(f, "};\nconst size_t alfa_fw_key_count = %d;\n", argc - 2);
    /* A write that failed on the way (a full disk) leaves the error flag; fclose reports the rest. */
    int write_failed = ferror(f) != 0;
    if (fclose(f) != 0 || write_failed) {
        fprintf(stderr, "alfaspark-sign: cannot write %s\n", argv[1]);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "keygen")) {
        if (argc != 4) {
            usage(stderr);
            return 2;
        }
        return alfa_fwsign_keygen(argv[2], argv[3]) == 0 ? 0 : 1;
    }
    if (!strcmp(cmd, "sign")) return cmd_sign(argc - 1, argv + 1);
    if (!strcmp(cmd, "verify")) return cmd_verify(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "export-c")) return cmd_export_c(argc - 1, argv + 1);
    fprintf(stderr, "alfaspark-sign: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
