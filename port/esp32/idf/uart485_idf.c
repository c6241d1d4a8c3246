/* RS-485 to the BMS on a UART in half-duplex mode: the UART drives the MAX485's DE from its RTS pin, 9600 8N1, never blocking. */
#include "driver/uart.h"
#include "esp_log.h"
#include "esp32_idf.h"

#define RX_BUF 512
#define TX_BUF 256          /* a Modbus request is 8 bytes: uart_write_bytes only copies, never waits */
#define EVENTS 8
#define RX_TIMEOUT_CHARS 3  /* the driver hands over what it has after 3 idle characters (< t3.5) */

static alfa_esp32_t *B(void *user) { return (alfa_esp32_t *)user; }

static int32_t serial_write(void *user, const uint8_t *data, uint16_t len)
{
    int n = uart_write_bytes((uart_port_t)B(user)->pins.uart_num, data, len);
    return n < 0 ? ALFA_PORT_E_IO : (int32_t)n;
}

static int32_t serial_read(void *user, uint8_t *data, uint16_t cap)
{
    int n = uart_read_bytes((uart_port_t)B(user)->pins.uart_num, data, cap, 0);
    return n < 0 ? ALFA_PORT_E_IO : (int32_t)n;
}

int32_t alfa_esp32_uart_init(alfa_esp32_t *b)
{
    const uart_port_t u = (uart_port_t)b->pins.uart_num;
    const uart_config_t cfg = {
        .baud_rate = 9600, /* SPEC.md §5.1; the BMS poller's timing assumes the same (alfa_mb_config_default) */
        .data_bits = UART_DATA_8_BITS,
        .parity = UART_PARITY_DISABLE,
        .stop_bits = UART_STOP_BITS_1,
        .flow_ctrl = UART_HW_FLOWCTRL_DISABLE,
        .source_clk = UART_SCLK_DEFAULT,
    };
    QueueHandle_t events = NULL;
    if (uart_driver_install(u, RX_BUF, TX_BUF, EVENTS, &events, 0) != ESP_OK || uart_param_config(u, &cfg) != ESP_OK ||
        uart_set_pin(u, b->pins.rs485_tx, b->pins.rs485_rx, b->pins.rs485_de, UART_PIN_NO_CHANGE) != ESP_OK ||
        uart_set_mode(u, UART_MODE_RS485_HALF_DUPLEX) != ESP_OK || uart_set_rx_timeout(u, RX_TIMEOUT_CHARS) != ESP_OK) {
        ESP_LOGE(ALFA_ESP32_TAG, "UART%d: RS-485 setup refused", (int)u);
        return ALFA_PORT_E_IO;
    }
    b->uart_events = events;
    b->port.serial_write = serial_write;
    b->port.serial_read = serial_read;
    return ALFA_PORT_OK;
}
