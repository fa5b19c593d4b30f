//! The virtual card as an in-process `chip::Transport`, for unit tests of the host side without
//! pcscd: the delivery faults become the errors a reader reports (mute -> `CardMute`, left the
//! field -> `CardRemoved`), the slow fault sleeps, the reinsert fault brings the card back once
//! its time has come, and `reset` powers the card on again.

use std::time::Instant;

use super::card::{Delivery, VirtualCard};
use idcheck_chip::transport::{Transport, TransportError};

impl VirtualCard {
    fn maybe_reinsert(&mut self) {
        if self.reinsert_due().is_some_and(|due| Instant::now() >= due) {
            self.reinsert();
        }
    }
}

impl Transport for VirtualCard {
    /// A mute card is reported at once (`after_ms` 0): there is no reader deadline in process.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.maybe_reinsert();
        match self.exchange(apdu) {
            Delivery::Answer(bytes) => {
                if let Some(d) = self.answer_delay() {
                    std::thread::sleep(d);
                }
                Ok(bytes)
            }
            Delivery::Mute => Err(TransportError::CardMute { after_ms: 0 }),
            Delivery::LeftField => Err(TransportError::CardRemoved),
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.maybe_reinsert();
        if self.has_left_field() {
            return Err(TransportError::CardRemoved);
        }
        Ok(VirtualCard::reset(self))
    }

    fn describe(&self) -> String {
        "virtual card (in-process emulator)".to_string()
    }
}
