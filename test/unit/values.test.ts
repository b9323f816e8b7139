import { describe, expect, it } from 'vitest'
import { checkAddress, checkCidr, checkCidr6, checkIPv4, checkInterface, checkPort, checkHostName } from '../../src/net/values.ts'
import { quote } from '../../src/shell/quote.ts'

describe('inventory values', () => {
  it.each([
    ['203.0.113.1', true],
    ['0.0.0.0', true],
    ['255.255.255.255', true],
    ['10.0.0.300', false],
    ['10.0.0', false],
    ['01.2.3.4', false],
    ['1.2.3.4 ', false],
    ['1.2.3.4;reboot', false],
  ])('IPv4 %j valid=%s', (value, ok) => expect(checkIPv4(value) === null).toBe(ok))

  it.each([
    ['10.0.0.0/8', true],
    ['203.0.113.0/24', true],
    ['0.0.0.0/0', true],
    ['10.0.0.0/33', false],
    ['10.0.0.1/24', false],
    ['10.0.0.0', false],
    ['10.0.0.0/24/1', false],
  ])('CIDR %j valid=%s', (value, ok) => expect(checkCidr(value) === null).toBe(ok))

  it.each([
    ['2001:db8:0:2::/64', null],
    ['2001:db8::/32', null],
    ['::/0', null],
    ['2001:db8::1/128', null],
    ['::ffff:198.51.100.0/120', null],
    ['2001:db8:0:2::1/64', 'the network is 2001:db8:0:2::/64'],
    ['2001:db8::/16', 'the network is 2001::/16'],
    ['2001:db8:0:0:1::/63', 'the network is 2001:db8::/63'],
    ['::ffff:198.51.100.7/120', 'the network is ::ffff:c633:6400/120'],
    ['fe80::1/0', 'the network is ::/0'],
    ['2001:db8::/129', 'prefix length 0-128'],
    ['2001:db8::', 'expected an IPv6 prefix'],
  ])('IPv6 prefix %j: %s', (value, problem) => {
    const got = checkCidr6(value)
    if (problem === null) expect(got).toBeNull()
    else expect(got).toContain(problem)
  })

  it('explains a CIDR with host bits set', () => {
    expect(checkCidr('10.0.0.1/24')).toContain('10.0.0.0/24')
  })

  it.each([
    ['eth0', true],
    ['enp0s31f6', true],
    ['br-lan.10', true],
    ['eth+', true],
    ['eth0;reboot', false],
    ['eth 0', false],
    ['$(id)', false],
    ['averyveryverylongname', false],
  ])('interface %j valid=%s', (value, ok) => expect(checkInterface(value) === null).toBe(ok))

  it.each([
    [22, true],
    [65535, true],
    [0, false],
    [70000, false],
    ['80', false],
    [8.5, false],
  ])('port %j valid=%s', (value, ok) => expect(checkPort(value) === null).toBe(ok))

  it.each([
    ['web01', true],
    ['db-1.example.org', true],
    ['-web', false],
    ['web_01', false],
  ])('host name %j valid=%s', (value, ok) => expect(checkHostName(value) === null).toBe(ok))
})

describe('POSIX quoting', () => {
  it.each([
    ['eth0', 'eth0'],
    ['', "''"],
    ['a b', "'a b'"],
    ["it's", `'it'\\''s'`],
    ['$(reboot)', "'$(reboot)'"],
    ['new\nline', "'new\nline'"],
  ])('quotes %j as %s', (word, quoted) => expect(quote(word)).toBe(quoted))

  it('never emits bash-only $\'...\' strings', () => {
    expect(quote('tab\there')).not.toMatch(/^\$'/)
  })
})

describe('SSH addresses', () => {
  it.each([
    ['198.51.100.2', true],
    ['2001:db8:0:1::1:7', true],
    ['router01.example.org', true],
    ['2001:db8::zz', false],
    ['fe80::1%eth0', false],
    ['10.0.0.300', false],
  ])('%j valid=%s', (value, ok) => expect(checkAddress(value) === null).toBe(ok))
})
