// The lab's listening services: tiny HTTP answers on TCP ports and an echo on UDP ports, each
// saying which host and port answered. Started by scripts/lab.sh inside a host's namespace.
//   node lab-services.mjs <name> --tcp 80,443 --udp 53
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'

const [name, ...args] = process.argv.slice(2)
const list = (flag) => {
  const i = args.indexOf(flag)
  return i === -1 ? [] : args[i + 1].split(',').filter(Boolean).map(Number)
}

for (const port of list('--tcp')) {
  createServer((socket) => {
    socket.on('error', () => {})
    const body = `${name}:${port}\n`
    // Answer as HTTP/1.0 so both curl and nc can talk to it; do not wait for a request.
    socket.end(`HTTP/1.0 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`)
  }).listen(port, '::') // IPv6 and IPv4 alike
}

for (const port of list('--udp')) {
  const socket = createSocket('udp6')
  socket.on('message', (_msg, peer) => socket.send(`${name}:${port}\n`, peer.port, peer.address))
  socket.bind(port, '::')
}
