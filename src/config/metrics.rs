//! METRICS_ADDR: where the Prometheus listener binds, if anywhere. Checked with the other
//! settings so a bad address stops start-up (and `check`) before anything is served.

use super::{ConfigError, Vars};
use std::net::SocketAddr;

/// METRICS_ADDR as a socket address, `None` when unset (metrics off).
pub fn metrics_addr(vars: &Vars, public_port: u16) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(raw) = vars.get("METRICS_ADDR") else {
        return Ok(None);
    };
    let addr: SocketAddr = raw.parse().map_err(|_| {
        ConfigError::new(
            "METRICS_ADDR",
            format!(
                "{raw:?} is not an IP:PORT address: use e.g. 127.0.0.1:9464 (unset it to turn metrics off)"
            ),
        )
    })?;
    if addr.port() != 0 && addr.port() == public_port {
        return Err(ConfigError::new(
            "METRICS_ADDR",
            format!(
                "uses port {public_port}, the public SERVER_PORT: metrics need a listener of their own, e.g. 127.0.0.1:9464"
            ),
        ));
    }
    Ok(Some(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_addr_is_optional_checked_and_never_the_public_port() {
        assert_eq!(metrics_addr(&Vars::default(), 8000).unwrap(), None);
        let ok = Vars::from_pairs([("METRICS_ADDR", "127.0.0.1:9464")]);
        assert_eq!(
            metrics_addr(&ok, 8000).unwrap(),
            Some("127.0.0.1:9464".parse().unwrap())
        );
        for bad in ["9464", "localhost:9464", "127.0.0.1", "127.0.0.1:8000"] {
            let vars = Vars::from_pairs([("METRICS_ADDR", bad)]);
            let e = metrics_addr(&vars, 8000).unwrap_err();
            assert_eq!(e.var, "METRICS_ADDR", "{bad}");
        }
    }
}
