import torch

x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
total = torch.sum((x ** 2))
scaled = (x * 3)
g, = torch.autograd.grad([total, scaled], x, [None, torch.tensor([1.0, 0.5, 0.25])], retain_graph=True)
print(g)
ones = torch.ones(size=[3])
torch.autograd.backward([scaled, total], [ones, None])
print(x.grad)
value = total.item()
n = x.numel()
print(torch.tensor(value), torch.tensor([value, 2.0]), torch.tensor([[value], [n]]))
print(torch.tensor([value, n], dtype=torch.float64))
