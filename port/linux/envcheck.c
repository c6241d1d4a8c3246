/* Environment checks for --check-config and open failures: CAN adapters, serial devices, directories and files, each with a reason and a fix. */
#include "alfa/envcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/can.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int problem(alfa_env_problem_t *p, int rc, const char *fix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int problem(alfa_env_problem_t *p, int rc, const char *fix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
    snprintf(p->fix, sizeof p->fix, "%s", fix);
    return rc;
}

/* A device node's failure to open, explained for a serial adapter. */
static int serial_open_failed(const char *path, const char *role, int err, alfa_env_problem_t *p)
{
    char fix[288];
    switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
        snprintf(fix, sizeof fix,
                 "plug in the %s, or correct the path; `ls -l /dev/serial/by-id/` lists serial adapters "
                 "(a by-id path stays the same when adapters are re-plugged)",
                 role);
        return problem(p, ALFA_PORT_E_IO, fix, "%s does not exist (%s)", path, strerror(err));
    case EACCES:
    case EPERM:
        return problem(p, ALFA_PORT_E_IO,
                       "serial devices belong to group dialout: run as a member of it (the services do: "
                       "SupplementaryGroups=dialout), or as root",
                       "%s: permission denied for this user (uid %u)", path, (unsigned)geteuid());
    case EBUSY:
        return problem(p, ALFA_PORT_E_IO,
                       "another program holds it (another daemon, ModemManager): `fuser -v` names it; "
                       "stop it or give it another device",
                       "%s is in use (%s)", path, strerror(err));
    default:
        return problem(p, ALFA_PORT_E_IO, "check the adapter and its cable; `dmesg | tail` shows what the kernel saw",
                       "%s cannot be opened: %s", path, strerror(err));
    }
}

int alfa_env_check_serial(const char *path, const char *role, alfa_env_problem_t *p)
{
    if (path == NULL || path[0] == '\0') {
        return problem(p, ALFA_PORT_E_RANGE, "give the device's path, e.g. /dev/ttyUSB0", "no device given");
    }
    const char *what = role != NULL ? role : "adapter";
    struct stat st;
    if (stat(path, &st) < 0) {
        return serial_open_failed(path, what, errno, p);
    }
    if (!S_ISCHR(st.st_mode)) {
        char fix[288];
        snprintf(fix, sizeof fix, "give the %s's device node (/dev/ttyUSB0, /dev/ttyACM0, /dev/serial/by-id/...)", what);
        return problem(p, ALFA_PORT_E_IO, fix, "%s is not a device (a %s)", path,
                       S_ISDIR(st.st_mode) ? "directory" : "regular file or other");
    }
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return serial_open_failed(path, what, errno, p);
    }
    int tty = isatty(fd);
    close(fd);
    if (!tty) {
        char fix[288];
        snprintf(fix, sizeof fix, "give the %s's serial device (/dev/ttyUSB0, /dev/ttyACM0...)", what);
        return problem(p, ALFA_PORT_E_IO, fix, "%s is a device but not a serial port (tty)", path);
    }
    return ALFA_PORT_OK;
}

static int check_socketcan(const char *ifname, alfa_env_problem_t *p)
{
    static const char up_fix[] = "bring it up at 500 kbit/s: `ip link set %s type can bitrate 500000 restart-ms 100 && "
                                 "ip link set %s up` (the guide shows how to make it permanent)";
    char fix[288];
    if (strlen(ifname) >= IFNAMSIZ) {
        return problem(p, ALFA_PORT_E_RANGE, "interface names have at most 15 characters",
                       "\"%s\" is too long for an interface name", ifname);
    }
    int fd = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW);
    if (fd < 0) {
        int err = errno;
        if (err == EAFNOSUPPORT || err == EPROTONOSUPPORT) {
            return problem(p, ALFA_PORT_E_IO,
                           "load the kernel's CAN support: `modprobe can_raw` (and the adapter's driver, e.g. "
                           "gs_usb for candleLight); or use an SLCAN adapter: slcan:/dev/ttyACM0",
                           "this kernel has no SocketCAN (%s)", strerror(err));
        }
        return problem(p, ALFA_PORT_E_IO, "check the kernel's CAN support (`lsmod | grep can`)",
                       "cannot create a CAN socket: %s", strerror(err));
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1u);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
        int err = errno;
        close(fd);
        return problem(p, ALFA_PORT_E_IO,
                       "plug in the CAN adapter and check its driver is loaded (gs_usb for candleLight/CANable "
                       "in gs_usb mode); `ip -br link` lists the interfaces",
                       "no network interface %s (%s)", ifname, strerror(err));
    }
    int rc = ALFA_PORT_OK;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family != ARPHRD_CAN) {
        rc = problem(p, ALFA_PORT_E_IO, "give the CAN adapter's interface (`ip -br link` shows can0, can1...)",
                     "%s is a network interface but not a CAN interface", ifname);
    } else if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
        snprintf(fix, sizeof fix, up_fix, ifname, ifname);
        rc = problem(p, ALFA_PORT_E_IO, fix, "%s is down", ifname);
    } else {
        struct sockaddr_can addr;
        memset(&addr, 0, sizeof addr);
        addr.can_family = AF_CAN;
        memset(&ifr, 0, sizeof ifr);
        memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1u);
        if (ioctl(fd, SIOCGIFINDEX, &ifr) == 0) {
            addr.can_ifindex = ifr.ifr_ifindex;
            if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
                rc = problem(p, ALFA_PORT_E_IO, "check the interface with `ip -details link show`",
                             "cannot bind a CAN socket to %s: %s", ifname, strerror(errno));
            }
        }
    }
    close(fd);
    return rc;
}

int alfa_env_check_can(const char *spec, alfa_env_problem_t *p)
{
    static const char spec_fix[] = "write slcan:<serial device> (e.g. slcan:/dev/ttyACM0) or socketcan:<interface> "
                                   "(e.g. socketcan:can0)";
    if (spec == NULL || spec[0] == '\0') {
        return problem(p, ALFA_PORT_E_RANGE, spec_fix, "no CAN interface given");
    }
    if (strncmp(spec, "slcan:", 6) == 0 || spec[0] == '/') {
        const char *path = spec[0] == '/' ? spec : spec + 6;
        if (path[0] == '\0') {
            return problem(p, ALFA_PORT_E_RANGE, spec_fix, "\"%s\" names no device", spec);
        }
        return alfa_env_check_serial(path, "SLCAN adapter (CANable, USBtin... in SLCAN mode)", p);
    }
    const char *ifname = strncmp(spec, "socketcan:", 10) == 0 ? spec + 10 : spec;
    if (ifname[0] == '\0' || strchr(ifname, ':') != NULL || strchr(ifname, '/') != NULL) {
        return problem(p, ALFA_PORT_E_RANGE, spec_fix, "\"%s\" is neither slcan:<device> nor socketcan:<interface>",
                       spec);
    }
    return check_socketcan(ifname, p);
}

int alfa_env_check_dir_writable(const char *dir, alfa_env_problem_t *p)
{
    char fix[288];
    struct stat st;
    if (dir == NULL || dir[0] == '\0') {
        return problem(p, ALFA_PORT_E_RANGE, "give a directory", "no directory given");
    }
    if (stat(dir, &st) < 0) {
        int err = errno;
        snprintf(fix, sizeof fix, "create it (`mkdir -p %.200s`; the packages create /var/lib/alfaspark) or choose "
                 "another place", dir);
        return problem(p, ALFA_PORT_E_IO, fix, "directory %s does not exist (%s)", dir, strerror(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        return problem(p, ALFA_PORT_E_IO, "choose a directory", "%s is not a directory", dir);
    }
    if (access(dir, W_OK | X_OK) < 0) {
        int err = errno;
        snprintf(fix, sizeof fix, "give this user write access (`chown` it to the service's user; the packages use "
                 "user alfaspark) or run as that user");
        return problem(p, ALFA_PORT_E_IO, fix, "directory %s is not writable for uid %u (%s)", dir,
                       (unsigned)geteuid(), strerror(err));
    }
    return ALFA_PORT_OK;
}

int alfa_env_check_file_writable(const char *path, uint64_t size, alfa_env_problem_t *p)
{
    struct stat st;
    if (path == NULL || path[0] == '\0') {
        return problem(p, ALFA_PORT_E_RANGE, "give a file's path", "no file given");
    }
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) {
            return problem(p, ALFA_PORT_E_IO, "check the path and its directories' permissions", "%s: %s", path,
                           strerror(errno));
        }
        char dir[256];
        snprintf(dir, sizeof dir, "%s", path);
        return alfa_env_check_dir_writable(dirname(dir), p); /* created on first start */
    }
    if (!S_ISREG(st.st_mode)) {
        return problem(p, ALFA_PORT_E_IO, "choose the path of an ordinary file", "%s is not a regular file", path);
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return problem(p, ALFA_PORT_E_IO, "give this user read and write access, or run as the file's owner",
                       "%s cannot be opened for writing: %s", path, strerror(errno));
    }
    close(fd);
    if (size > 0 && (uint64_t)st.st_size != size) {
        return problem(p, ALFA_PORT_E_IO,
                       "restore the block size and count it was made with, or move the file away (the settings "
                       "then start from factory defaults)",
                       "%s has %llu bytes but the configured geometry needs %llu", path,
                       (unsigned long long)st.st_size, (unsigned long long)size);
    }
    return ALFA_PORT_OK;
}

int alfa_env_check_file_readable(const char *path, alfa_env_problem_t *p)
{
    if (path == NULL || path[0] == '\0') {
        return problem(p, ALFA_PORT_E_RANGE, "give a file's path", "no file given");
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == EACCES) {
            return problem(p, ALFA_PORT_E_IO,
                           "make it readable by the service's user (the packages: owner root, group alfaspark, "
                           "mode 0640)",
                           "%s is not readable for uid %u (%s)", path, (unsigned)geteuid(), strerror(err));
        }
        return problem(p, ALFA_PORT_E_IO, "create it, or correct the path", "%s cannot be read: %s", path,
                       strerror(err));
    }
    close(fd);
    return ALFA_PORT_OK;
}
