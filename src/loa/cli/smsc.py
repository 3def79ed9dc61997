"""`loa smsc-sim`: run the sandbox SMSC (`python -m loa.channels.smsc_sim` takes the same options
without loading the rest of the CLI)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from loa.channels.smsc_sim import build_config, run


def smsc_sim(
    host: str = typer.Option("127.0.0.1", "--host", help="Địa chỉ nghe. / Address to listen on."),
    port: int = typer.Option(2775, "--port", help="Cổng; 0 = cổng trống. / Port; 0 = a free one."),
    port_file: Path | None = typer.Option(
        None, "--port-file", help="Ghi cổng đang nghe vào tệp. / Write the bound port here."
    ),
    journal: Path | None = typer.Option(
        None, "--journal", help="Ghi mỗi phần tin nhận được (JSONL). / Journal every part (JSONL)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Không in thống kê. / No stats."),
    system_id: str | None = typer.Option(
        None, "--system-id", help="Chỉ nhận tài khoản này. / Accept only this account."
    ),
    password: str | None = typer.Option(None, "--password", help="Mật khẩu. / Its password."),
    receipt_delay: tuple[float, float] = typer.Option(
        (0.05, 0.5), "--receipt-delay", help="Độ trễ báo cáo MIN MAX (giây). / Seconds."
    ),
    fail: list[str] = typer.Option(
        [], "--fail", help="NHÀ_MẠNG=TỶ_LỆ tin không tới máy, * = mọi mạng. / CARRIER=RATE."
    ),
    expire_rate: float = typer.Option(0.0, "--expire-rate", help="Tỷ lệ hết hạn. / EXPIRED."),
    reject_rate: float = typer.Option(
        0.0, "--reject-rate", help="Tỷ lệ số bị từ chối. / Share of numbers refused."
    ),
    throttle_tps: float | None = typer.Option(
        None, "--throttle-tps", help="Quá TPS này thì báo nghẽn. / ESME_RTHROTTLED beyond it."
    ),
    disconnect_after: int | None = typer.Option(
        None, "--disconnect-after", help="Ngắt kết nối sau N tin. / Drop after N submit_sm."
    ),
    disconnect_every: bool = typer.Option(
        False, "--disconnect-every", help="Ngắt lại sau mỗi N tin. / Every N, not once."
    ),
    idle_timeout: float | None = typer.Option(
        None, "--idle-timeout", help="Ngắt kết nối im lặng quá lâu (giây). / Drop idle binds."
    ),
    receipt_before_resp: bool = typer.Option(
        False, "--receipt-before-resp", help="Gửi báo cáo trước submit_sm_resp. / For tests."
    ),
    receipts_as: str = typer.Option("text", "--receipts-as", help="text | tlv | both"),
    reply: list[str] = typer.Option(
        [], "--reply", help="SỐ=NỘI_DUNG trả lời khi tin tới máy, ví dụ 84901234567=TC."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Hạt ngẫu nhiên. / Random seed."),
    stats_every: float = typer.Option(
        5.0, "--stats-every", help="In thống kê mỗi N giây. / Print stats every N s."
    ),
) -> None:
    """SMSC giả lập cho thử nghiệm và demo. / A sandbox SMSC for demos and tests."""
    config = build_config(
        host=host,
        port=port,
        journal=journal,
        system_id=system_id,
        password=password,
        receipt_delay=receipt_delay,
        fail=fail,
        expire_rate=expire_rate,
        reject_rate=reject_rate,
        throttle_tps=throttle_tps,
        disconnect_after=disconnect_after,
        disconnect_every=disconnect_every,
        idle_timeout=idle_timeout,
        receipt_before_resp=receipt_before_resp,
        receipts_as=receipts_as,
        reply=reply,
        seed=seed,
    )
    asyncio.run(run(config, port_file=port_file, quiet=quiet, stats_every_s=stats_every))
