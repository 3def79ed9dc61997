#!/usr/bin/env bash
# `make demo`: Loa's main job on the embedded default (SQLite), start to finish, from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
LOA=.venv/bin/loa
DIR=demo-data
rm -rf "$DIR"
mkdir -p "$DIR"
export LOA_DATABASE_URL="sqlite:///$DIR/loa.db"

step() { printf '\n\033[1;36m== %s\033[0m\n' "$*"; }

step "1. Tạo cơ sở dữ liệu / Create the store"
$LOA init

step "2. Dữ liệu mẫu có lỗi như file thật / Sample data with real-world damage"
$LOA sample --contacts 5000 --orders 15000 --out "$DIR" --messy --seed 7

step "3. Nhập danh bạ / Import the customer book"
$LOA contacts import "$DIR/contacts.csv" \
  --consent sms:marketing --consent-method form \
  --consent-evidence "Phiếu đăng ký thành viên tại cửa hàng, 2025"

step "4. Nhập đơn hàng / Import orders"
$LOA events import "$DIR/orders.csv"

step "5. Phân khúc / Segments"
$LOA segments create mua-2-lan-90-ngay \
  --rule '{"event": "purchase", "count": {"gte": 2}, "within_days": 90}' \
  --description "Mua từ 2 lần trong 90 ngày"
$LOA segments create sinh-nhat-tuan-toi --rule '{"birthday_within_days": 7}' \
  --description "Sinh nhật trong 7 ngày tới"
$LOA segments create chi-tieu-tu-5-trieu --rule '{"event": "purchase", "sum": {"gte": 5000000}}' \
  --description "Tổng chi tiêu từ 5.000.000đ"
$LOA segments list --counts
$LOA segments preview sinh-nhat-tuan-toi --limit 5

step "6. Kiểm tra số điện thoại / Phone check"
$LOA phone check "0912 345 678" "+84 (98) 765-4321" 01629113610 "024 3826 1234" 8.49123E+10

step "7. Soạn tin: mã hoá và số tin / Compose: encoding and parts"
$LOA text info "[QC] Chào chị Lan, Loa tặng mã giảm 20% cho đơn từ 300.000đ tới 30/11. Từ chối nhận QC: soạn TC gửi 1234, gọi 1900 1234."

step "8. Brandname và kiểm tra nội dung / Brandname and content safety"
$LOA brandnames add LOASHOP --domains loa.vn,m.loa.vn --registered 2025-06-01 \
  --optout-keyword TC --shortcode 6058 --hotline 19001234
$LOA compliance check --sender LOASHOP --class qc \
  --text "[QC] Tai khoan cua ban se bi khoa, dang nhap tai https://vietcombank-secure.top. Tu choi QC soan TC gui 6058, goi 19001234" \
  || echo "→ Tin giả mạo bị chặn / The hijack-style message is refused"

step "9. Xem trước tin cá nhân hoá / Personalised preview"
$LOA compose preview --segment mua-2-lan-90-ngay --sender LOASHOP --short-domain l.loa.vn \
  --text '{{ gender | greeting }} {{ given_name | default("bạn") }} ơi, Loa tặng bạn mã giảm 20% tới 30/11: https://loa.vn/uu-dai'

step "10. Chiến dịch: lập kế hoạch, chưa gửi gì / Campaign: the plan, nothing sent"
$LOA campaigns create --name "Tri ân khách quen" --class qc --sender LOASHOP \
  --segment mua-2-lan-90-ngay --golden-hours retail --best-hour --holdout 10 --short-domain l.loa.vn \
  --text '{{ gender | greeting }} {{ given_name | default("ban") }} oi, Loa tang ban ma giam 20% toi 30/11: https://loa.vn/uu-dai' \
  --variant 'Loa gui {{ given_name | default("ban") }} uu dai 20% cho khach quen, den 30/11: https://loa.vn/uu-dai'
$LOA campaigns plan 1
$LOA inbound 0912345678 "Từ chối" || true
$LOA compliance explain 0912345678 --sender LOASHOP

step "11. Gửi thật qua SMPP tới SMSC giả lập / Send over real SMPP to the sandbox SMSC"
$LOA smsc-sim --port 0 --port-file "$DIR/smsc.port" --quiet --fail '*=0.03' --receipt-delay 0.05 0.5 \
  > "$DIR/smsc.log" 2>&1 &
SMSC_PID=$!
trap 'kill $SMSC_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$DIR/smsc.port" ] && break; sleep 0.1; done
$LOA routes add sandbox --kind smpp --host 127.0.0.1 --port "$(cat "$DIR/smsc.port")" \
  --system-id loa --password loa --window 100
$LOA routes test sandbox
$LOA templates add cam-on --class cskh --approved \
  --text 'LOASHOP cam on {{ given_name | default("quy khach") }} da mua hang. Hotline 19001234'
$LOA campaigns create --name "Cảm ơn khách mua 2 lần" --class cskh --sender LOASHOP \
  --segment mua-2-lan-90-ngay --template cam-on --max-tps 1000
$LOA campaigns plan 2 > /dev/null
$LOA campaigns start 2
$LOA worker --until-idle --receipt-wait 10
$LOA campaigns report 2
$LOA reports png 2 -o "$DIR/bao-cao-2.png"

step "12. Tự động: xác nhận đơn hàng, gửi một lần / Automation: order confirmation, sent once"
$LOA templates add xac-nhan-don --class cskh --approved \
  --text 'LOASHOP: don {{ event.order_id }} tri gia {{ event.value_vnd | vnd }} da duoc xac nhan. Cam on {{ given_name | default("quy khach") }}!'
$LOA automations create --event order_completed --template xac-nhan-don --sender LOASHOP
BUYER=$(.venv/bin/python -c "import sqlite3; print(sqlite3.connect('$DIR/loa.db').execute('select phone from contacts order by id limit 1').fetchone()[0])")
$LOA events send order_completed --contact "$BUYER" --value 450000 --id DH-1001 \
  --props '{"order_id": "DH-1001"}'
echo "→ Gửi lại cùng sự kiện / The same event posted again:"
$LOA events send order_completed --contact "$BUYER" --value 450000 --id DH-1001 \
  --props '{"order_id": "DH-1001"}'
$LOA worker --until-idle --receipt-wait 5
$LOA automations history

step "13. Bảng điều khiển / The dashboard"
DEMO_EMAIL=demo@loa.vn
DEMO_PASSWORD=loa-demo-2026
echo "$DEMO_PASSWORD" | $LOA users add "$DEMO_EMAIL" --role owner --name "Chủ cửa hàng Loa" --password-stdin
if [ "${LOA_DEMO_SERVE:-1}" = "0" ]; then
  echo "LOA_DEMO_SERVE=0: không mở bảng điều khiển / dashboard not started."
  exit 0
fi
echo
echo "Mở / Open  http://127.0.0.1:8000   —  $DEMO_EMAIL / $DEMO_PASSWORD   (Ctrl-C để dừng / to stop)"
$LOA serve --host 127.0.0.1 --port "${LOA_DEMO_PORT:-8000}"

printf '\nXong. Cơ sở dữ liệu demo: %s/loa.db — thử: LOA_DATABASE_URL=%s .venv/bin/loa segments list --counts\n' "$DIR" "$LOA_DATABASE_URL"
