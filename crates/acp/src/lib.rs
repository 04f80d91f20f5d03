//! An external agent over the Agent Client Protocol (ACP), behind the gateway.
