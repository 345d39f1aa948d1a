"""edgewise.device_tests: measure a model on a real device, over SSH or on this machine.

    from edgewise.device_tests.bench import BenchSettings, run_benchmark
    result = run_benchmark("model.tflite", device="ssh://pi@raspberrypi.local",
                           settings=BenchSettings(runs=200, min_duration_s=10))
    print(result.latency_ms.p50, result.peak_rss_bytes, result.energy.energy_mj_per_inference)

Pieces: `connectors` (local, ssh), `inventory` (devices as data), `deploy` (the payload zip with
the runtime and the agent), `agent` (runs on the device), `facts` (what the device is), `power`
(probes, the agent's sampler, energy per inference), `memory` and `validity` (what a result's
figures mean, and what may spoil them), `bench` (the host side), `fleet` (many devices at once),
`offline` (NumPy for devices without internet, and clean-up), `results` (the SQLite store),
`compare` and `report`.
"""
