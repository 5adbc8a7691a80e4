import torch
import torch.nn.functional as F
import math

x = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
w = torch.linspace(start=-1.0, end=1.0, steps=3, requires_grad=True)
print(x.shape, (x.shape)[1], x.ndim, x.numel(), x.dtype, x.is_leaf)
h = torch.tanh((x @ w))
y = (torch.sum(F.softplus(h)) + (torch.sum(torch.mean((x ** 2), dim=0)) * 0.5))
print(y, y.grad_fn, y.requires_grad)
print((y.grad_fn).next_functions)
g, = torch.autograd.grad(y, x, create_graph=True)
print(g)
gw = torch.autograd.grad(torch.sum(g), w, retain_graph=True)[0]
print(gw)
y.backward()
print(x.grad, w.grad)
total = 0.0
for i in range((x.shape)[0]):
    row = x[i]
    total += torch.sum(row).item()
    if (i == 0):
        continue
    print('row {}: {} sum={:.3f}'.format(i, row.detach(), torch.sum(row).item()), end=';\n')
print(round(total, 4), abs(-2.5), min(3, 1, 2), max(0.5, len([w, x])), int(3.7), float(2))
print(math.sqrt(2.0), 3.141592653589793, x[0, 1:], x[:, 0], x[-1][-1], (x.T)[1])
with torch.no_grad():
    z = (x * 2)
print(z.requires_grad, (x * 2).requires_grad, z.data)
if False:
    _gs1_value_ = torch.clone(x.detach())
else:
    _gs1_value_ = x.detach()
s = _gs1_value_
print(s.requires_grad, torch.where((s > 0), s, torch.zeros_like(s)))
n = 0
while (n < 10):
    n += 3
    if (n > 6):
        break
_gs2_and_ = (3 > 2)
if _gs2_and_:
    _gs2_and_ = (1 < 0)
print(n, (n // 2), (n % 4), (-n), (n ** 2), (n / 4), (2 ** -1), ('a' + 'b'), _gs2_and_, (not True))
print(torch.cat([x, x], dim=1).shape, torch.sum(torch.stack([w, w]), dim=1))
print(torch.sum(x, dim=1, keepdim=True), torch.max(x), torch.argmax(x), torch.mean(x), torch.std(x))
print(F.cross_entropy(x, torch.tensor([2, 0])), F.mse_loss(input=x, target=torch.zeros(size=[2, 3])))
