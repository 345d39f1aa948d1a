"""Power and energy: probes (where a device can tell its draw), the agent's sampler, the estimate.

`parsers`, `probes` and `sampler` run on the device (stdlib only, shipped in the deployment zip);
`energy` turns the sampled trace into energy per inference on either side.
"""
