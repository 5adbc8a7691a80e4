import math

import torch
import torch.nn.functional as F

x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
w = torch.linspace(-1.0, 1.0, 3, requires_grad=True)
print(x.shape, x.size(1), x.dim(), x.numel(), x.dtype, x.is_leaf)
h = torch.tanh(x @ w)
y = F.softplus(h).sum() + (x ** 2).mean(dim=0).sum() * 0.5
print(y, y.grad_fn, y.requires_grad)
print(y.grad_fn.next_functions)
g, = torch.autograd.grad(y, x, create_graph=True)
print(g)
gw = torch.autograd.grad(g.sum(), w, retain_graph=True)[0]
print(gw)
y.backward()
print(x.grad, w.grad)
total = 0.0
for i in range(x.shape[0]):
    row = x[i]
    total += row.sum().item()
    if i == 0:
        continue
    print(f"row {i}: {row.detach()} sum={row.sum().item():.3f}", end=";\n")
print(round(total, 4), abs(-2.5), min(3, 1, 2), max(0.5, len([w, x])), int(3.7), float(2))
print(math.sqrt(2.0), math.pi, x[0, 1:], x[:, 0], x[-1][-1], x.T[1])
with torch.no_grad():
    z = x * 2
print(z.requires_grad, (x * 2).requires_grad, z.data)
s = x.detach().clone() if False else x.detach()
print(s.requires_grad, torch.where(s > 0, s, torch.zeros_like(s)))
n = 0
while n < 10:
    n += 3
    if n > 6:
        break
print(n, n // 2, n % 4, -n, n ** 2, n / 4, 2 ** -1, "a" + "b", 3 > 2 and 1 < 0, not True)
print(torch.cat([x, x], dim=1).shape, torch.stack((w, w)).sum(dim=1))
print(x.sum(dim=1, keepdim=True), x.max(), x.argmax(), x.mean(), x.std())
print(F.cross_entropy(x, torch.tensor([2, 0])), F.mse_loss(x, torch.zeros(2, 3)))
