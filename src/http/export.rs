//! The service client as an exporter of its registry: its samples (see
//! [`ServiceClient::prometheus`]) and one health component for the service.

use crate::exposition::{Collector, Detail, Exporter, Health};

use super::ServiceClient;

impl Exporter for ServiceClient {
    fn samples(&self, out: &mut Collector) {
        self.collect(out);
    }

    fn health(&self, out: &mut Health) {
        let (status, usable, total) = ServiceClient::health(self);
        out.push(
            self.service(),
            status,
            vec![
                ("usable_instances", Detail::UInt(usable)),
                ("instances", Detail::UInt(total)),
            ],
        );
    }
}
