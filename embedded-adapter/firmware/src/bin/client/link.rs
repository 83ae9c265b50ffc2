//! The network behind the stand-in driver.
//!
//! The `mps2-an386` board has a LAN9220 Ethernet controller, for which
//! embassy has no driver, and QEMU's model of it has no host network
//! attached here. The firmware's embassy-net stack therefore runs on an
//! `embassy-net-driver-channel` device, the same kind of device a real
//! driver is written on: this task holds the channel's other end, where a
//! LAN9220 driver would move frames to and from the chip. It plays the
//! hub's host just far enough for the device to try the hub: it answers
//! the device's ARP request for the hub's address, and it ends the run
//! with success when the device's TCP SYN to the hub arrives, which shows
//! that the executor, the time driver, the stack and the memwire runner
//! all work. Every other frame is dropped.

use embassy_net_driver_channel::{RxRunner, TxRunner};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket,
};

use crate::{HUB_IP, HUB_MAC, HUB_PORT, MTU, pass};

/// Drains the device's frames and answers the ones addressed to the hub.
#[embassy_executor::task]
pub(crate) async fn run(mut rx: RxRunner<'static, MTU>, mut tx: TxRunner<'static, MTU>) -> ! {
    loop {
        let frame = tx.tx_buf().await;
        let seen = inspect(frame);
        tx.tx_done();
        match seen {
            Seen::ArpRequest { mac, ip } => {
                let reply = rx.rx_buf().await;
                let len = arp_reply(reply, mac, ip);
                rx.rx_done(len);
            }
            Seen::HubSyn => pass("the memwire runner sent its TCP SYN to the hub"),
            Seen::Other => {}
        }
    }
}

/// What a frame from the device is, to the hub's host.
enum Seen {
    /// The device asks who has the hub's address.
    ArpRequest {
        mac: EthernetAddress,
        ip: Ipv4Address,
    },
    /// The device opens a TCP connection to the hub's port.
    HubSyn,
    /// Anything else.
    Other,
}

/// Classifies a frame the device sent, through smoltcp's checked views.
fn inspect(frame: &[u8]) -> Seen {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Seen::Other;
    };
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let request = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p));
            match request {
                Ok(ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    source_hardware_addr,
                    source_protocol_addr,
                    target_protocol_addr,
                    ..
                }) if target_protocol_addr == HUB_IP => Seen::ArpRequest {
                    mac: source_hardware_addr,
                    ip: source_protocol_addr,
                },
                _ => Seen::Other,
            }
        }
        EthernetProtocol::Ipv4 => {
            let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
                return Seen::Other;
            };
            if ip.next_header() != IpProtocol::Tcp || ip.dst_addr() != HUB_IP {
                return Seen::Other;
            }
            match TcpPacket::new_checked(ip.payload()) {
                Ok(tcp) if tcp.syn() && !tcp.ack() && tcp.dst_port() == HUB_PORT => Seen::HubSyn,
                _ => Seen::Other,
            }
        }
        _ => Seen::Other,
    }
}

/// Writes into `buf` the hub's ARP reply to the device at `mac`, `ip`, and
/// returns its length (0, an empty frame, if `buf` cannot hold it).
fn arp_reply(buf: &mut [u8], mac: EthernetAddress, ip: Ipv4Address) -> usize {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: HUB_MAC,
        source_protocol_addr: HUB_IP,
        target_hardware_addr: mac,
        target_protocol_addr: ip,
    };
    let eth = EthernetRepr {
        src_addr: HUB_MAC,
        dst_addr: mac,
        ethertype: EthernetProtocol::Arp,
    };
    let len = eth.buffer_len() + arp.buffer_len();
    let Some(out) = buf.get_mut(..len) else {
        return 0;
    };
    let mut frame = EthernetFrame::new_unchecked(out);
    eth.emit(&mut frame);
    arp.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
    len
}
