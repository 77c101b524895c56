"""`gridx sim meters` as a real process: 1,000 meters on five ports, faults from the command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pymodbus.client import ModbusTcpClient

from gridx.registers import BLOCK_WORDS, address_of, decode
from gridx.services import gridx_command, stop_process, wait_for_port
from tests.helpers.edge import modbus_ports


def test_one_process_serves_a_thousand_meters(tmp_path: Path) -> None:
    base = modbus_ports(5)
    log = (tmp_path / "sim.log").open("ab")
    cmd = gridx_command("sim", "meters", "--count", "1000", "--port", str(base), "--fault", "7=offline")
    proc = subprocess.Popen([*cmd, "--fault", "8=garbage"], stdout=log, stderr=log)
    try:
        wait_for_port(base + 4, proc, 60, tmp_path / "sim.log")
        clients = {p: ModbusTcpClient("127.0.0.1", port=p, timeout=5) for p in range(base, base + 5)}
        for c in clients.values():
            assert c.connect()
        for index in (0, 199, 200, 555, 999):
            port, unit = address_of(index, base)
            rr = clients[port].read_holding_registers(0, count=BLOCK_WORDS, device_id=unit)
            assert not rr.isError()
            snap = decode(rr.registers)
            assert snap.serial == f"GTX-SIM-{index:06d}" and snap.map_version == 1
            # input registers (FC4) show the same block
            ir = clients[port].read_input_registers(0, count=BLOCK_WORDS, device_id=unit)
            assert decode(ir.registers).serial == snap.serial
        off = clients[base].read_holding_registers(0, count=BLOCK_WORDS, device_id=8)
        assert off.isError() and off.exception_code == 0x0B
        garbage = clients[base].read_holding_registers(0, count=BLOCK_WORDS, device_id=9)
        assert decode(garbage.registers).serial != "GTX-SIM-000008"
        refused = clients[base].write_register(0, 1, device_id=1)
        assert refused.isError()
        for c in clients.values():
            c.close()
    finally:
        stop_process(proc)
