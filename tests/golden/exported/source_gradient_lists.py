import torch

x = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
total = torch.sum((x ** 2))
scaled = (x * 3)
g, = torch.autograd.grad([total, scaled], x, (None, torch.tensor([1.0, 0.5, 0.25])), retain_graph=True)
print(g)
torch.autograd.backward([scaled, total], (torch.ones(size=[3]), None))
print(x.grad)
value = total.item()
print(torch.tensor(value), torch.tensor([value, 2.0]), torch.tensor([[value], [x.numel()]]))
print(torch.tensor([value, x.numel()], dtype=torch.float64))
w = torch.ones(size=[2, 3], requires_grad=True)
print(torch.sum(w.view([3, 2])), torch.zeros(size=[2, 3]).shape, w.repeat([2, 1]).shape)
