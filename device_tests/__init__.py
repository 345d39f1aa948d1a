"""edgewise.device_tests: measure a model on a real device, over SSH or on this machine.

    from edgewise.device_tests.bench import BenchSettings, run_benchmark
    result = run_benchmark("model.tflite", device="ssh://pi@raspberrypi.local",
                           settings=BenchSettings(runs=200, min_duration_s=10))
    print(result.latency_ms.p50, result.peak_rss_bytes, result.device_facts.board)

Pieces: `connectors` (local, ssh), `deploy` (the zip with the runtime and the agent), `agent`
(runs on the device), `facts` (what the device is), `bench` (the host side), `results` (store
and compare results).
"""
