/* The CAN frame as every Alfaspark layer sees it: firmware core, ports, gateway and simulator. */
#ifndef ALFA_CAN_FRAME_H
#define ALFA_CAN_FRAME_H

#include <stdint.h>

#define ALFA_CAN_FLAG_EXT 0x01u /* 29-bit identifier (every Alfaspark frame is extended) */
#define ALFA_CAN_FLAG_RTR 0x02u /* remote request (never sent by Alfaspark; received ones are ignored) */
#define ALFA_CAN_FLAG_ERR 0x04u /* an error frame observed on the bus (receive side only) */

#define ALFA_CAN_ID_MASK_EXT 0x1FFFFFFFu
#define ALFA_CAN_MAX_DLC 8u

typedef struct alfa_can_frame {
    uint32_t id;                      /* 29-bit identifier when ALFA_CAN_FLAG_EXT is set, else 11-bit */
    uint8_t len;                      /* data length 0..8 */
    uint8_t flags;                    /* ALFA_CAN_FLAG_* */
    uint8_t data[ALFA_CAN_MAX_DLC];
} alfa_can_frame_t;

#endif
