#!/usr/bin/env python3
"""The default values a Kconfig file gives its symbols, as sdkconfig.h lines (scripts/idf_check.sh).

    kconfig_defaults.py KCONFIG KNOWN_SDKCONFIG_H > lines

No kconfgen here (its Python package is not in Debian): this evaluates what idf_check needs of one
component's Kconfig -- config/menuconfig with their type, `default X [if E]`, `depends on`, `select`,
menu/if blocks with their conditions, choice blocks with their default -- against the symbols already
in KNOWN_SDKCONFIG_H (the target's facts and the project's sdkconfig.defaults, which win over any
default here). Symbols nobody defines are n. Prints `#define CONFIG_X value` for every symbol that is
on (bool y, or a value) and not known already.
"""
import re
import sys


def tokens(expr):
    return re.findall(r'"[^"]*"|\|\||&&|!=|<=|>=|[!=()<>]|[A-Za-z0-9_x]+', expr)


class Eval:
    """Kconfig expression over y/n (bools) and strings/numbers (others); y = True."""

    def __init__(self, values):
        self.v = values

    def value(self, tok):
        if tok.startswith('"'):
            return tok[1:-1]
        if tok in ('y', 'n'):
            return tok
        if re.fullmatch(r'-?(0x[0-9a-fA-F]+|\d+)', tok):
            return tok
        return self.v.get(tok, 'n')

    def run(self, expr):
        self.t = tokens(expr)
        self.i = 0
        r = self.orx()
        return r

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self):
        self.i += 1
        return self.t[self.i - 1]

    def orx(self):
        r = self.andx()
        while self.peek() == '||':
            self.take()
            r = self.andx() or r
        return r

    def andx(self):
        r = self.notx()
        while self.peek() == '&&':
            self.take()
            rr = self.notx()
            r = r and rr
        return r

    def notx(self):
        if self.peek() == '!':
            self.take()
            return not self.notx()
        return self.cmp()

    def atom(self):
        if self.peek() == '(':
            self.take()
            r = self.orx()
            self.take()  # ')'
            return ('bool', r)
        return ('val', self.value(self.take()))

    def cmp(self):
        kind, a = self.atom()
        op = self.peek()
        if op in ('=', '!=', '<', '<=', '>', '>='):
            self.take()
            _, b = self.atom()
            if op in ('=', '!='):
                return (str(a) == str(b)) == (op == '=')
            try:
                x, y = int(str(a), 0), int(str(b), 0)
            except ValueError:
                return False
            return {'<': x < y, '<=': x <= y, '>': x > y, '>=': x >= y}[op]
        if kind == 'bool':
            return a
        return a not in ('n', '', '0') and a is not None


def parse(path):
    """Symbols in file order: name, type, defaults [(value, cond)], depends [conds], selects, choice."""
    syms, stack, choice = [], [], None
    cur = None
    help_indent = None
    for raw in open(path, encoding='utf-8'):
        line = raw.expandtabs(8).rstrip()
        indent = len(line) - len(line.lstrip())
        if help_indent is not None:
            if not line.strip() or indent > help_indent:
                continue  # help text
            help_indent = None
        if '"' not in line:
            line = line.split('#', 1)[0].rstrip()
        s = line.strip()
        if not s or s.startswith('#'):
            continue
        if s in ('help', '---help---'):
            help_indent = indent
            continue
        m = re.match(r'(menu)?config\s+(\w+)$', s)
        if m:
            deps = list(stack) + (choice['depends'] if choice is not None else [])
            cur = {'name': m.group(2), 'type': 'bool', 'defaults': [], 'depends': deps,
                   'selects': [], 'choice': choice}
            syms.append(cur)
            if choice is not None:
                choice['members'].append(cur['name'])
            continue
        m = re.match(r'choice(\s+(\w+))?$', s)
        if m:
            choice = {'default': [], 'members': [], 'depends': list(stack)}
            cur = choice
            continue
        if s == 'endchoice':
            choice = None
            cur = None
            continue
        m = re.match(r'menu\s+"', s)
        if m:
            stack.append('y')
            cur = {'menu': len(stack) - 1}
            continue
        if s == 'endmenu' or s == 'endif':
            stack.pop()
            cur = None
            continue
        m = re.match(r'if\s+(.+)$', s)
        if m:
            stack.append(m.group(1))
            cur = None
            continue
        if cur is None:
            continue
        m = re.match(r'depends\s+on\s+(.+)$', s)
        if m:
            if 'menu' in cur:
                stack[cur['menu']] = m.group(1)
            else:
                cur['depends'].append(m.group(1))
            continue
        m = re.match(r'(bool|int|hex|string|tristate)\b', s)
        if m and 'name' in cur:
            cur['type'] = m.group(1)
            continue
        m = re.match(r'def_bool\s+(\S+)(\s+if\s+(.+))?$', s)
        if m and 'name' in cur:
            cur['type'] = 'bool'
            cur['defaults'].append((m.group(1), m.group(3)))
            continue
        m = re.match(r'default\s+("[^"]*"|\S+)(\s+if\s+(.+))?$', s)
        if m:
            cur['defaults' if 'name' in cur else 'default'].append((m.group(1), m.group(3)))
            continue
        m = re.match(r'select\s+(\w+)(\s+if\s+(.+))?$', s)
        if m and 'name' in cur:
            cur['selects'].append((m.group(1), m.group(3)))
    return syms


def main():
    kconfig, known_h = sys.argv[1], sys.argv[2]
    known = {}
    for line in open(known_h, encoding='utf-8'):
        m = re.match(r'#define CONFIG_(\w+)\s+(.*)$', line.strip())
        if m:
            v = m.group(2).strip()
            known[m.group(1)] = 'y' if v == '1' else v
    syms = parse(kconfig)
    values = dict(known)
    for _ in range(6):  # forward references settle in a few passes
        ev = Eval(values)
        new = dict(known)
        selected = set()
        for sym in syms:
            name = sym['name']
            visible = all(ev.run(d) for d in sym['depends'])
            if name in known:
                val = known[name]
            elif not visible:
                val = 'n' if sym['type'] == 'bool' else None
            elif sym['choice'] is not None:
                ch = sym['choice']
                pick = next((v for v, c in ch['default'] if c is None or ev.run(c)), ch['members'][0])
                val = 'y' if pick == name else 'n'
            else:
                val = next((ev.value(v) if sym['type'] == 'bool' else v.strip('"')
                            for v, c in sym['defaults'] if c is None or ev.run(c)), 'n' if sym['type'] == 'bool' else None)
                if sym['type'] == 'bool' and val not in ('y', 'n'):
                    val = 'y' if ev.run(val) else 'n'
            if val is not None:
                new[name] = val
            if val == 'y':
                for target, c in sym['selects']:
                    if c is None or ev.run(c):
                        selected.add(target)
        for target in selected:
            if target not in known:
                new[target] = 'y'
        if new == values:
            break
        values = new
    types = {s['name']: s['type'] for s in syms}
    for sym in syms:
        name = sym['name']
        if name in known or name not in values:
            continue
        val = values[name]
        if types[name] == 'bool':
            if val == 'y':
                print(f'#define CONFIG_{name} 1')
        elif types[name] == 'string':
            print(f'#define CONFIG_{name} "{val}"')
        elif val not in (None, 'n', ''):
            print(f'#define CONFIG_{name} {val}')


if __name__ == '__main__':
    main()
