#!/usr/bin/env node
// A foreign SMPP v3.4 server for Loa's integration tests, written with the npm `smpp` package
// (farhadi/node-smpp), so that our PDUs are read by code we did not write.
//
// It accepts bind_transceiver (any credentials), answers submit_sm with a unique message_id,
// appends each submit as one JSON line to the journal (text decoded by the `smpp` package),
// and after a short delay sends a delivery receipt deliver_sm (esm_class 0x04, text form
// "id:... stat:DELIVRD err:000"). Receipts for a dropped connection go to the next bind.
//
//   node smpp-peer.js [--port 0] [--journal PATH] [--receipt-delay-ms 50] [--disconnect-after N]
//
// Prints the port it listens on (one line, digits only) once listening. Options may also come
// from the environment: SMPP_PEER_PORT, SMPP_PEER_JOURNAL, SMPP_PEER_RECEIPT_DELAY_MS,
// SMPP_PEER_DISCONNECT_AFTER.
'use strict';

const fs = require('fs');
const smpp = require('smpp');

function option(name, envName, fallback) {
  const at = process.argv.indexOf('--' + name);
  if (at >= 0 && at + 1 < process.argv.length) {
    return process.argv[at + 1];
  }
  return process.env[envName] !== undefined ? process.env[envName] : fallback;
}

const port = Number(option('port', 'SMPP_PEER_PORT', '0'));
const journalPath = option('journal', 'SMPP_PEER_JOURNAL', '');
const receiptDelayMs = Number(option('receipt-delay-ms', 'SMPP_PEER_RECEIPT_DELAY_MS', '50'));
const disconnectAfter = Number(option('disconnect-after', 'SMPP_PEER_DISCONNECT_AFTER', '0'));

const journal = journalPath ? fs.openSync(journalPath, 'a') : null;
const idPrefix = Date.now().toString(16) + (process.pid & 0xffff).toString(16).padStart(4, '0');
let ids = 0;
let submits = 0;
let dropped = false;
const waiting = []; // receipts whose session went away: sent on the next bind
const bound = new Set();

function stamp(date) {
  const two = (n) => String(n).padStart(2, '0');
  return (
    two(date.getUTCFullYear() % 100) + two(date.getUTCMonth() + 1) + two(date.getUTCDate()) +
    two(date.getUTCHours()) + two(date.getUTCMinutes())
  );
}

function concat(udhList) {
  for (const ie of udhList || []) {
    if (ie[0] === 0x00 && ie[1] === 3) {
      return { ref: ie[2], total: ie[3], part: ie[4] };
    }
    if (ie[0] === 0x08 && ie[1] === 4) {
      return { ref: (ie[2] << 8) | ie[3], total: ie[4], part: ie[5] };
    }
  }
  return null;
}

function sendReceipt(session, receipt) {
  if (bound.has(session)) {
    session.deliver_sm(receipt);
  } else {
    const other = bound.values().next();
    if (!other.done) {
      other.value.deliver_sm(receipt);
    } else {
      waiting.push(receipt);
    }
  }
}

const server = smpp.createServer((session) => {
  session.on('error', () => session.destroy());
  session.on('close', () => bound.delete(session));

  session.on('bind_transceiver', (pdu) => {
    session.send(pdu.response({ system_id: 'npm-smpp-peer' }));
    bound.add(session);
    while (waiting.length) {
      session.deliver_sm(waiting.shift());
    }
  });

  session.on('enquire_link', (pdu) => session.send(pdu.response()));

  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    bound.delete(session);
    session.close();
  });

  session.on('submit_sm', (pdu) => {
    if (session.dropped) {
      return; // PDUs still buffered from a connection we dropped: never taken
    }
    if (disconnectAfter && !dropped && submits >= disconnectAfter) {
      // Once: the submit that finds the limit reached, and all after it, are never answered.
      // end(), not destroy(): the answers already written still reach the client.
      dropped = true;
      session.dropped = true;
      bound.delete(session);
      session.close();
      return;
    }
    submits += 1;
    ids += 1;
    const messageId = idPrefix + ids.toString(16).padStart(8, '0');
    const content = pdu.short_message && (pdu.short_message.message !== undefined ||
      pdu.short_message.udh) ? pdu.short_message : pdu.message_payload || {};
    const text = typeof content.message === 'string' ? content.message : String(content);
    const info = concat(content.udh);
    const dest = pdu.destination_addr;
    if (journal !== null) {
      const line = {
        message_id: messageId,
        dest: dest,
        source: pdu.source_addr,
        source_ton: pdu.source_addr_ton,
        dest_ton: pdu.dest_addr_ton,
        data_coding: pdu.data_coding,
        esm_class: pdu.esm_class,
        validity_period: pdu.validity_period ? String(pdu.validity_period) : '',
        registered_delivery: pdu.registered_delivery,
        text: text,
        udh: (content.udh || []).map((ie) => ie.toString('hex')).join(''),
        ref: info ? info.ref : null,
        part: info ? info.part : null,
        total: info ? info.total : null,
        msg_key: info ? dest + '#ref' + info.ref : dest + '#' + messageId,
        at: new Date().toISOString(),
      };
      fs.writeSync(journal, JSON.stringify(line) + '\n');
    }
    session.send(pdu.response({ message_id: messageId }));
    if (pdu.registered_delivery & 0x03) {
      const submitted = new Date();
      setTimeout(() => {
        const body =
          'id:' + messageId + ' sub:001 dlvrd:001 submit date:' + stamp(submitted) +
          ' done date:' + stamp(new Date()) + ' stat:DELIVRD err:000 text:';
        sendReceipt(session, {
          source_addr_ton: 1,
          source_addr_npi: 1,
          source_addr: dest,
          dest_addr_ton: pdu.source_addr_ton,
          dest_addr_npi: pdu.source_addr_npi,
          destination_addr: pdu.source_addr,
          esm_class: 0x04,
          data_coding: 0,
          short_message: Buffer.from(body, 'ascii'),
        });
      }, receiptDelayMs);
    }
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(String(server.address().port) + '\n');
});

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
