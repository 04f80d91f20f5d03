// The dashboard view (#dashboard-view): its platforms, pairing requests,
// jobs, errors and metrics. Filled in with the dashboard endpoints.
