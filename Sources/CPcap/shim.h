#ifndef REPLAYD_CPCAP_SHIM_H
#define REPLAYD_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
