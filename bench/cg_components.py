#!/usr/bin/env python3
# bench/cg_components.py CALLGRIND_FILE REQUESTS [--files] [--minus FILE]:
# user-space instructions per request by component (doc/design.md,
# "Instructions per request"), attributed by the
# source file of each cost line (inlined code counts for the file it comes
# from), with the object (binary / library) for code without line info.
# Needs a build with line information (-g): bench/instr.sh with CG_OUT=file,
# e.g. on a tree configured with -DCMAKE_CXX_FLAGS=-g.
# --minus FILE subtracts the costs of another run (bench/coro_floor with half
# the rounds: the difference has no setup in it; REQUESTS is then the
# difference of the round counts).
import sys, re, collections
args = sys.argv[1:]
show_files = '--files' in args
minus = args[args.index('--minus') + 1] if '--minus' in args else None
path, per = args[0], float(args[1])

def parse(path):
    names = {}; files = {}; objs = {}
    def nm(s, table):
        m = re.match(r'\((\d+)\)(?: (.*))?', s)
        if not m: return s
        if m.group(2) is not None: table[m.group(1)] = m.group(2)
        return table[m.group(1)]
    ob = fl = fi = fn = None; pending = False
    cost = collections.Counter()
    for line in open(path, errors='replace'):
        line = line.rstrip('\n')
        if not line: continue
        if line.startswith('ob='): ob = nm(line[3:], objs); continue
        if line.startswith('fl='): fl = nm(line[3:], files); fi = None; continue
        if line.startswith(('fi=', 'fe=')): fi = nm(line[3:], files); continue
        if line.startswith('fn='): fn = nm(line[3:], names); fi = None; continue
        if line.startswith('cob='): nm(line[4:], objs); continue
        if line.startswith('cfn='): nm(line[4:], names); continue
        if line.startswith(('cfi=', 'cfl=')): nm(line[4:], files); continue
        if line.startswith('calls='): pending = True; continue
        if line[0].isdigit() or line[0] in '+-*':
            parts = line.split()
            if len(parts) >= 2 and not pending:
                cost[(fi or fl, ob, fn)] += int(parts[1])
            pending = False
    return cost

cost = parse(path)
if minus:
    cost.subtract(parse(minus))

def group(f, ob, fn):
    f = f or '???'
    if f == '???':
        o = (ob or '').split('/')[-1]
        if 'liburing' in o: return 'liburing (library)'
        if o.startswith('libc') or 'ld-linux' in o: return 'libc: ' + (
            'memcpy/memmove' if re.search(r'mem(cpy|move)', fn or '') else
            'memchr/str*' if re.search(r'mem(chr|cmp)|str', fn or '') else
            'malloc/free' if re.search(r'malloc|free|memalign|unlink_chunk', fn or '') else
            'pthread mutex' if 'mutex' in (fn or '') else 'other')
        return 'other: ' + o
    if '/include/asio_uring/' in f or re.search(r'/src/[a-z_]+\.(cpp|hpp)$', f) and '/boost/' not in f:
        b = f.split('/')[-1]
        if b in ('buffer_ring.hpp', 'buffer_ring.cpp'): return 'ours: multishot receive (buffer_ring)'
        if b in ('scheduler.hpp', 'scheduler.cpp', 'operation.hpp', 'ring.hpp', 'io_context.hpp'): return 'ours: scheduler, ring, executor'
        return 'ours: ops and I/O objects (' + b + ')' if show_files else 'ours: ops and I/O objects'
    if f.endswith('liburing.h') or '/liburing/' in f: return 'liburing (inline)'
    if '/example/' in f or '/bench/' in f: return 'server source / bench op (' + f.split('/')[-1] + ')'
    if '/boost/' in f:
        b = f.split('/boost/')[-1]
        if re.search(r'awaitable|co_spawn|use_awaitable|this_coro', b): return 'asio: coroutine machinery (' + b + ')' if show_files else 'asio: coroutine machinery'
        if re.search(r'any_executor|any_io_executor|execution/', b): return 'asio: any_io_executor'
        if re.search(r'thread_info_base|recycling_allocator|call_stack|keyword_tss|thread_context', b): return 'asio: recycling allocator, call stack'
        if re.search(r'impl/write|consuming_buffers|buffer\.hpp|completion_condition', b): return 'asio: async_write composed op, buffers'
        if re.search(r'cancellation', b): return 'asio: cancellation slots'
        if re.search(r'as_tuple|append|async_result|handler|bind', b): return 'asio: as_tuple, async_initiate, handler glue'
        if re.search(r'system/', b): return 'asio: error_code'
        return 'asio: other (' + b + ')'
    if f.startswith('/usr/include/c++') or '/bits/' in f: return 'c++ std library (inline)'
    if 'x86_64' in f or 'sysdeps' in f or './' in f: return 'libc: ' + (
        'memcpy/memmove' if re.search(r'mem(cpy|move)', fn or '') else
        'memchr/str*' if re.search(r'mem(chr|cmp)|str', fn or '') else
        'malloc/free' if re.search(r'malloc|free|memalign|unlink_chunk', fn or '') else
        'pthread mutex' if 'mutex' in (fn or '') else 'other')
    return 'other: ' + f

g = collections.Counter()
for (f, ob, fn), v in cost.items():
    g[group(f, ob, fn)] += v
tot = sum(g.values())
for k, v in g.most_common():
    if v / per >= 0.5: print(f"{v/per:8.1f}  {k}")
print(f"{tot/per:8.1f}  total")
